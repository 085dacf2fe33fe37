package quantize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"github.com/shrinkml/shrink/onnxio/ort"
	"google.golang.org/protobuf/proto"
)

// profileTag prefixes the node names of profiling copies: a node that was
// node i of the float model is called profileTag+i, so ORT's fused nodes
// (which keep their anchor's name as a prefix) map back to it.
const profileTag = "shrinkprof"

// Profile is the per-node time of one model in ORT, in milliseconds per
// run, keyed by the float model's node index. Other collects the time of
// nodes that map to no original node (inserted QuantizeLinear,
// DequantizeLinear, layout Transposes), by op type.
type Profile struct {
	Node  map[int]float64
	Op    map[int]string // the kernel's op type as ORT ran it
	Other map[string]float64
	Total float64
}

// tagNodes returns a copy of m whose nodes, and the intermediate tensors
// they write, are named after the node's float-model index (idx maps m's
// nodes to it; other nodes are named "shrinkx<i>"). ORT names the nodes it
// fuses or re-lays out after the anchor node or its output, so the tag
// survives as a prefix.
func tagNodes(m *onnxio.Model, idx map[*onnxpb.NodeProto]int) *onnxio.Model {
	c := m.Clone()
	keep := map[string]bool{}
	for _, v := range c.Proto.Graph.Input {
		keep[v.GetName()] = true
	}
	for _, v := range c.Proto.Graph.Output {
		keep[v.GetName()] = true
	}
	for _, t := range c.Proto.Graph.Initializer {
		keep[t.GetName()] = true
	}
	rename := map[string]string{}
	seen := map[string]int{}
	for i, n := range m.Proto.Graph.Node {
		cn := c.Proto.Graph.Node[i]
		tag := "shrinkx" + strconv.Itoa(i) + "_" + n.GetOpType()
		if j, ok := idx[n]; ok {
			tag = profileTag + strconv.Itoa(j)
			if k := seen[tag]; k > 0 {
				seen[tag]++
				tag += "_" + strconv.Itoa(k)
			} else {
				seen[tag] = 1
			}
		}
		cn.Name = proto.String(tag)
		if n.GetOpType() == "Constant" {
			continue
		}
		for k, o := range cn.Output {
			if o != "" && !keep[o] {
				r := tag + "_" + strconv.Itoa(k)
				rename[o] = r
				cn.Output[k] = r
			}
		}
	}
	for _, n := range c.Proto.Graph.Node {
		for k, in := range n.Input {
			if r, ok := rename[in]; ok {
				n.Input[k] = r
			}
		}
	}
	return c
}

// profileModel runs m `runs` times on inputs with ORT's profiler and sums
// the kernel times per node.
func profileModel(ctx context.Context, m *onnxio.Model, idx map[*onnxpb.NodeProto]int, inputs map[string]*onnxio.Tensor, runs, threads int) (*Profile, error) {
	dir, err := os.MkdirTemp("", "shrink-profile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tm := tagNodes(m, idx)
	optPath := filepath.Join(dir, "optimized.onnx")
	s, err := ort.NewSession(tm, ort.Options{IntraOpThreads: threads, ProfilePrefix: filepath.Join(dir, "p"), OptimizedModelPath: optPath})
	if err != nil {
		return nil, err
	}
	b, err := s.Bind(inputs)
	if err != nil {
		s.Close()
		return nil, err
	}
	for i := 0; i < runs+3; i++ {
		if err := ctx.Err(); err != nil {
			b.Close()
			s.Close()
			return nil, err
		}
		if err := b.RunDiscard(); err != nil {
			b.Close()
			s.Close()
			return nil, err
		}
	}
	b.Close()
	s.Close() // writes the profile
	files, _ := filepath.Glob(filepath.Join(dir, "p*.json"))
	if len(files) != 1 {
		return nil, fmt.Errorf("ONNX Runtime wrote %d profile files, want 1", len(files))
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	om, err := onnxio.Load(optPath)
	if err != nil {
		return nil, fmt.Errorf("ORT's optimized model: %w", err)
	}
	return parseProfile(data, runs+3, 3, optimizedTags(om))
}

// optimizedTags maps each node of ORT's optimized graph to the float-model
// node it came from: the tag in its own name, else in its outputs' names,
// else in its inputs' names (ORT names fused nodes variously after the
// anchor node or its output).
func optimizedTags(om *onnxio.Model) map[string]int {
	out := map[string]int{}
	for _, n := range om.Proto.Graph.Node {
		if i, ok := tagIndex(n.GetName()); ok {
			out[n.GetName()] = i
			continue
		}
		found := false
		for _, o := range n.Output {
			if i, ok := tagIndex(o); ok {
				out[n.GetName()], found = i, true
				break
			}
		}
		if found {
			continue
		}
		for _, in := range n.Input {
			if i, ok := tagIndex(in); ok && n.GetOpType() != "QuantizeLinear" && n.GetOpType() != "DequantizeLinear" && n.GetOpType() != "Transpose" {
				out[n.GetName()] = i
				break
			}
		}
	}
	return out
}

type profileEvent struct {
	Cat  string `json:"cat"`
	Name string `json:"name"`
	Dur  int64  `json:"dur"`
	Args struct {
		OpName string `json:"op_name"`
	} `json:"args"`
}

// parseProfile sums "<node>_kernel_time" events per node over the last
// runs-skip runs (the first skip are warm-up) and converts to ms per run.
func parseProfile(data []byte, runs, skip int, tags map[string]int) (*Profile, error) {
	var evs []profileEvent
	if err := json.Unmarshal(data, &evs); err != nil {
		return nil, fmt.Errorf("ORT profile: %w", err)
	}
	p := &Profile{Node: map[int]float64{}, Op: map[int]string{}, Other: map[string]float64{}}
	// Count runs by the model_run events to skip the warm-up ones.
	run := 0
	kept := float64(runs - skip)
	for _, e := range evs {
		if e.Cat == "Session" && e.Name == "model_run" {
			run++
			continue
		}
		if e.Cat != "Node" || !strings.HasSuffix(e.Name, "_kernel_time") {
			continue
		}
		// model_run events are written at the end of each run, so node
		// events of run r come before the r-th model_run event.
		if run < skip {
			continue
		}
		ms := float64(e.Dur) / 1000 / kept
		name := strings.TrimSuffix(e.Name, "_kernel_time")
		p.Total += ms
		i, ok := tags[name]
		if !ok {
			i, ok = tagIndex(name)
		}
		if ok {
			p.Node[i] += ms
			if p.Op[i] == "" || !strings.HasPrefix(e.Args.OpName, "Transpose") {
				p.Op[i] = e.Args.OpName
			}
			continue
		}
		p.Other[e.Args.OpName] += ms
	}
	return p, nil
}

// tagIndex parses profileTag<digits> at the start of a node name.
func tagIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, profileTag)
	if !ok {
		return 0, false
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:j])
	return i, err == nil
}
