package ort

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// What ONNX Runtime says when it refuses a model, and what is read off it.
var (
	// In Node, ("name", Op, "domain", -1) : (inputs) -> (outputs) , Error msg
	reInNode = regexp.MustCompile(`In Node, \("([^"]*)", ([^,]*), "([^"]*)", -?\d+\) : .*? , Error (.*)$`)
	// No Op registered for FooBar with domain_version of 17
	reNoOp = regexp.MustCompile(`No Op registered for (\S+) with domain_version of (\d+)`)
	// com.foo:Gemm(-1) is not a registered function/op
	reNotRegistered = regexp.MustCompile(`(?:^|\s)(?:([\w.]+):)?(\w+)\(-?\d+\) is not a registered function/op`)
	// Opset 99 is under development … support for domain ai.onnx is till opset 26.
	reOpset = regexp.MustCompile(`Opset (\d+) is under development.*support for domain (\S+) is till opset (\d+)`)
	// Unsupported model IR version: 99, max supported IR version: 13
	reIR = regexp.MustCompile(`Unsupported model IR version: (\d+), max supported IR version: (\d+)`)
)

// refused turns ONNX Runtime's refusal of model mp into one line: an
// operator it has no kernel for and an opset or IR version newer than it
// supports are *onnxio.UnsupportedError (the CLI's exit code 4), naming
// the node and op, or the versions; anything else keeps ORT's message
// without its C++ source locations and signatures.
func refused(err error, mp *onnxpb.ModelProto) error {
	msg := stripSource(cleanErr(err))
	if m := reIR.FindStringSubmatch(msg); m != nil {
		return &onnxio.UnsupportedError{Reason: fmt.Sprintf("the model's IR version is %s; ONNX Runtime %s reads IR versions up to %s", m[1], LibVersion, m[2])}
	}
	if m := reOpset.FindStringSubmatch(msg); m != nil {
		return &onnxio.UnsupportedError{Reason: fmt.Sprintf("the model imports opset %s of %s; ONNX Runtime %s supports %s up to opset %s", m[1], m[2], LibVersion, m[2], m[3])}
	}
	if m := reInNode.FindStringSubmatch(msg); m != nil {
		node, op, domain, detail := m[1], m[2], m[3], m[4]
		if d := reNoOp.FindStringSubmatch(detail); d != nil {
			return &onnxio.UnsupportedError{Node: node, Op: qualified(domain, op), Reason: fmt.Sprintf("ONNX Runtime %s has no such operator in opset %s of %s", LibVersion, d[2], domainName(domain))}
		}
		return fmt.Errorf("ONNX Runtime refused the model: node %q (%s): %s", node, qualified(domain, op), detail)
	}
	if m := reNotRegistered.FindStringSubmatch(msg); m != nil {
		domain, op := m[1], m[2]
		return &onnxio.UnsupportedError{Node: findNode(mp, domain, op), Op: qualified(domain, op), Reason: fmt.Sprintf("ONNX Runtime %s has no such operator (domain %s)", LibVersion, domainName(domain))}
	}
	return fmt.Errorf("ONNX Runtime refused the model: %s", msg)
}

func qualified(domain, op string) string {
	if domain == "" || domain == "ai.onnx" {
		return op
	}
	return domain + ":" + op
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// findNode names the first node (in the main graph or a subgraph) of that
// domain and op type.
func findNode(mp *onnxpb.ModelProto, domain, op string) string {
	var walk func(g *onnxpb.GraphProto) string
	walk = func(g *onnxpb.GraphProto) string {
		for _, n := range g.GetNode() {
			if n.GetOpType() == op && n.GetDomain() == domain {
				if n.GetName() != "" {
					return n.GetName()
				}
				if len(n.Output) > 0 {
					return n.Output[0]
				}
			}
			for _, a := range n.Attribute {
				if a.G != nil {
					if s := walk(a.G); s != "" {
						return s
					}
				}
				for _, sg := range a.Graphs {
					if s := walk(sg); s != "" {
						return s
					}
				}
			}
		}
		return ""
	}
	return walk(mp.GetGraph())
}

// stripSource drops the "/onnxruntime_src/…/file.cc:123 ret ns::f(args…) "
// prefix ONNX Runtime puts before a message: the source location and the
// C++ signature of the function that failed.
func stripSource(s string) string {
	for {
		i := strings.Index(s, "/onnxruntime_src/")
		if i < 0 {
			return s
		}
		rest := s[i:]
		sp := strings.IndexByte(rest, ' ')
		open := strings.IndexByte(rest, '(')
		if sp < 0 || open < 0 {
			return s
		}
		// Skip the signature: up to the parenthesis closing the first one.
		depth, end := 0, -1
		for j := open; j < len(rest); j++ {
			switch rest[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				end = j + 1
				break
			}
		}
		if end < 0 {
			return s
		}
		s = s[:i] + strings.TrimLeft(rest[end:], " ")
	}
}
