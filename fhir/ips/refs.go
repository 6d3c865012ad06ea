package ips

import (
	"strings"

	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// resourceOf returns the resource a ContainedResource holds, or nil.
func resourceOf(cr *bcrpb.ContainedResource) protoreflect.Message {
	m := cr.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("oneof_resource")
	if od == nil {
		return nil
	}
	fd := m.WhichOneof(od)
	if fd == nil {
		return nil
	}
	return m.Mutable(fd).Message()
}

// copyOf returns a deep copy of a mapped resource: the document changes
// its copies (profiles claimed, references pruned) and marshalling writes
// to what it marshals, while the mapped resource may be shared.
func copyOf(cr *bcrpb.ContainedResource) *bcrpb.ContainedResource {
	return proto.Clone(cr).(*bcrpb.ContainedResource)
}

var referenceName = (&d.Reference{}).ProtoReflect().Descriptor().FullName()

// pruneReferences removes from a resource every literal reference to a
// resource the document does not hold (an Encounter, the authorisation a
// medication statement is based on, a problem's linked entry left out), so
// that every reference in the document resolves inside it; an element
// left with nothing but such references goes with them. in holds the
// document's resources as "Type/id" and as full URLs. Logical references
// (by identifier only: an organisation's ODS code, a clinician's SDS user
// id) and references within the resource ("#...") stay.
func pruneReferences(cr *bcrpb.ContainedResource, in map[string]bool) {
	if res := resourceOf(cr); res != nil {
		prune(res, in)
	}
}

// prune prunes m and reports whether it is left empty.
func prune(m protoreflect.Message, in map[string]bool) bool {
	var clear []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		if fd.IsList() {
			l := v.List()
			kept := 0
			for i := 0; i < l.Len(); i++ {
				e := l.Get(i)
				if dropped(fd, e.Message(), in) {
					continue
				}
				l.Set(kept, e)
				kept++
			}
			l.Truncate(kept)
			if kept == 0 {
				clear = append(clear, fd)
			}
			return true
		}
		if !fd.IsMap() && dropped(fd, v.Message(), in) {
			clear = append(clear, fd)
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
	empty := true
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		empty = false
		return false
	})
	return empty
}

// dropped reports whether the element m (of field fd) goes: a reference
// that does not resolve in the document, or an element pruning left empty.
func dropped(fd protoreflect.FieldDescriptor, m protoreflect.Message, in map[string]bool) bool {
	if fd.Message().FullName() == referenceName {
		ref, ok := m.Interface().(*d.Reference)
		if !ok {
			return false
		}
		if err := jsonformat.DenormalizeReference(ref); err != nil {
			return false
		}
		uri := ref.GetUri().GetValue()
		if uri == "" || strings.HasPrefix(uri, "#") {
			return false
		}
		return !in[uri]
	}
	return prune(m, in)
}
