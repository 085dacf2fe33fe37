package onnxio

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Attr returns the attribute called name, or nil.
func Attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// AttrInt returns an int attribute or def.
func AttrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := Attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// AttrFloat returns a float attribute or def.
func AttrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := Attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

// AttrString returns a string attribute or def.
func AttrString(n *onnxpb.NodeProto, name string, def string) string {
	if a := Attr(n, name); a != nil {
		return string(a.GetS())
	}
	return def
}

// AttrInts returns an ints attribute or def.
func AttrInts(n *onnxpb.NodeProto, name string, def []int64) []int64 {
	if a := Attr(n, name); a != nil {
		return a.Ints
	}
	return def
}

// AttrFloats returns a floats attribute or def.
func AttrFloats(n *onnxpb.NodeProto, name string, def []float32) []float32 {
	if a := Attr(n, name); a != nil {
		return a.Floats
	}
	return def
}

// SetAttrInt sets (or replaces) an int attribute.
func SetAttrInt(n *onnxpb.NodeProto, name string, v int64) {
	setAttr(n, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)})
}

// SetAttrFloat sets (or replaces) a float attribute.
func SetAttrFloat(n *onnxpb.NodeProto, name string, v float32) {
	setAttr(n, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)})
}

// SetAttrInts sets (or replaces) an ints attribute.
func SetAttrInts(n *onnxpb.NodeProto, name string, v []int64) {
	setAttr(n, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v})
}

// SetAttrString sets (or replaces) a string attribute.
func SetAttrString(n *onnxpb.NodeProto, name string, v string) {
	setAttr(n, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)})
}

func setAttr(n *onnxpb.NodeProto, a *onnxpb.AttributeProto) {
	for i, b := range n.Attribute {
		if b.GetName() == a.GetName() {
			n.Attribute[i] = a
			return
		}
	}
	n.Attribute = append(n.Attribute, a)
}

// NewNode builds a default-domain node.
func NewNode(op, name string, inputs, outputs []string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: outputs}
}

// UnsupportedError says that a model uses an op or feature shrink (or
// ONNX Runtime) cannot handle; the CLI maps it to exit code 4. Node and Op
// name the node; both are empty for a model-wide limit (an IR or opset
// version), which Reason then states alone.
type UnsupportedError struct {
	// Node names the node at fault; "" when there is none (the model
	// lacks what was asked for), and then the message names no node.
	Node   string
	Op     string
	Reason string
}

func (e *UnsupportedError) Error() string {
	if e.Node == "" && e.Op == "" {
		return e.Reason // a model-wide limit (an IR or opset version)
	}
	msg := fmt.Sprintf("not implemented: op %s at node %q", e.Op, e.Node)
	if e.Node == "" {
		msg = "not implemented: op " + e.Op
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}
