package fhirjson_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// emitted are the resource types the gateway writes (the members of
// ContainedResource the mapper, Consent, Contract and the
// CapabilityStatement set).
var emitted = []string{
	"AllergyIntolerance", "CapabilityStatement", "Condition", "Consent", "Contract", "Encounter", "Flag",
	"Immunization", "MedicationRequest", "MedicationStatement", "Observation", "Patient", "Procedure", "ServiceRequest",
}

// entropy is where the generator's choices come from: a seeded PRNG for
// the property tests, the fuzzer's bytes for FuzzWriterProto.
type entropy interface {
	Uint64() uint64
}

// bytesEntropy reads choices from fuzz input, then zeros.
type bytesEntropy struct{ b []byte }

func (e *bytesEntropy) Uint64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v <<= 8
		if len(e.b) > 0 {
			v |= uint64(e.b[0])
			e.b = e.b[1:]
		}
	}
	return v
}

// gen fills protos of any R4 type with random content: every field may be
// set, choice types take a random member, references a random form (uri,
// fragment, typed id with or without history), primitives random values
// of their type, ids and extensions (with value[x] or nested), now and
// then the primitiveHasNoValue extension. Strings mix ASCII, markup
// (<, >, &), quotes, backslashes, control characters, U+2028/U+2029,
// other scripts, emoji and invalid UTF-8.
type gen struct {
	r entropy
	// budget bounds the messages one resource holds.
	budget int
	// contained: a contained resource is being made (it holds none).
	contained bool
}

func (g *gen) n(k int) int {
	if k <= 1 {
		return 0
	}
	return int(g.r.Uint64() % uint64(k))
}

func (g *gen) chance(pct int) bool { return g.n(100) < pct }

// resource returns a random resource of the named type in a
// ContainedResource.
func (g *gen) resource(name string) *bcrpb.ContainedResource {
	cr := &bcrpb.ContainedResource{}
	m := cr.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("oneof_resource")
	for i := 0; i < od.Fields().Len(); i++ {
		fd := od.Fields().Get(i)
		if string(fd.Message().Name()) == name {
			if !g.contained {
				g.budget = 150
			}
			r := m.Mutable(fd).Message()
			g.fill(r, 0)
			return cr
		}
	}
	panic("no resource type " + name)
}

// anyResource returns a random resource of any R4 type.
func (g *gen) anyResource() *bcrpb.ContainedResource {
	od := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().ByName("oneof_resource")
	return g.resource(string(od.Fields().Get(g.n(od.Fields().Len())).Message().Name()))
}

func isPrimitive(md protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(md.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue) == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE
}

func isChoice(md protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(md.Options(), apb.E_IsChoiceType).(bool)
}

// fill sets random fields of m.
func (g *gen) fill(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	g.budget--
	if isPrimitive(md) {
		g.primitive(m, depth)
		return
	}
	if md.FullName() == "google.fhir.r4.core.Reference" {
		g.reference(m, depth)
	}
	if isChoice(md) {
		od := md.Oneofs().Get(0)
		fd := od.Fields().Get(g.n(od.Fields().Len()))
		g.field(m, fd, depth)
		return
	}
	// Deeper messages hold fewer fields; a resource holds most of its own.
	pct := []int{70, 45, 35, 25, 15, 8}[min(depth, 5)]
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if fd.ContainingOneof() != nil {
			continue
		}
		if g.budget <= 0 && depth > 0 {
			break
		}
		if fd.Name() == "url" && strings.HasSuffix(string(md.Name()), "Extension") {
			g.field(m, fd, depth) // an extension always has its url
			continue
		}
		if g.chance(pct) {
			g.field(m, fd, depth)
		}
	}
	for i := 0; i < md.Oneofs().Len(); i++ {
		od := md.Oneofs().Get(i)
		if od.Name() == "reference" && md.FullName() == "google.fhir.r4.core.Reference" {
			continue
		}
		if g.chance(pct) {
			g.field(m, od.Fields().Get(g.n(od.Fields().Len())), depth)
		}
	}
}

// field sets fd on m: one value, or one to three for a repeated field.
func (g *gen) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	if fd.Message() == nil {
		return // Any's type_url and value: set only by contained
	}
	if fd.Message().Name() == "ContainedResource" {
		return // Bundle entries: not ours to write
	}
	if fd.Message().FullName() == "google.protobuf.Any" {
		if fd.JSONName() != "contained" || depth > 0 || g.contained || !g.chance(30) {
			return
		}
		g.contained = true
		defer func() { g.contained = false }()
		l := m.Mutable(fd).List()
		for k := 1 + g.n(2); k > 0; k-- {
			g.budget = min(g.budget, 40)
			inner := g.anyResource()
			a, err := anypb.New(inner)
			if err != nil {
				panic(err)
			}
			l.Append(protoreflect.ValueOfMessage(a.ProtoReflect()))
		}
		return
	}
	if fd.IsList() {
		l := m.Mutable(fd).List()
		for k := 1 + g.n(3); k > 0; k-- {
			e := l.NewElement()
			g.fill(e.Message(), depth+1)
			l.Append(e)
		}
		return
	}
	g.fill(m.Mutable(fd).Message(), depth+1)
}

// reference sets Reference's reference oneof: a uri, a fragment, or a
// typed id (now and then with a history).
func (g *gen) reference(m protoreflect.Message, depth int) {
	ref := m.Interface().(*d4pb.Reference)
	switch g.n(5) {
	case 0:
		return
	case 1:
		ref.Reference = &d4pb.Reference_Uri{Uri: &d4pb.String{Value: g.str()}}
		if g.chance(20) {
			g.primitiveExtras(ref.GetUri().ProtoReflect(), depth+1)
		}
	case 2:
		ref.Reference = &d4pb.Reference_Fragment{Fragment: &d4pb.String{Value: g.str()}}
		if g.chance(20) {
			g.primitiveExtras(ref.GetFragment().ProtoReflect(), depth+1)
		}
	default:
		od := m.Descriptor().Oneofs().ByName("reference")
		var typed []protoreflect.FieldDescriptor
		for i := 0; i < od.Fields().Len(); i++ {
			if fd := od.Fields().Get(i); strings.HasSuffix(string(fd.Name()), "_id") {
				typed = append(typed, fd)
			}
		}
		{
			fd := typed[g.n(len(typed))]
			id := &d4pb.ReferenceId{Value: g.id()}
			if g.chance(30) {
				id.History = &d4pb.Id{Value: g.id()}
			}
			if g.chance(10) {
				g.primitiveExtras(id.ProtoReflect(), depth+1)
			}
			m.Set(fd, protoreflect.ValueOfMessage(id.ProtoReflect()))
			return
		}
	}
}

// primitive sets a primitive's value and, now and then, its id and
// extensions.
func (g *gen) primitive(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	f := func(name string) protoreflect.FieldDescriptor { return md.Fields().ByName(protoreflect.Name(name)) }
	switch md.Name() {
	case "Date", "DateTime", "Instant", "Time":
		g.dateTime(m, md)
	case "Decimal":
		m.Set(f("value"), protoreflect.ValueOfString(g.decimal()))
	case "Boolean":
		m.Set(f("value"), protoreflect.ValueOfBool(g.chance(50)))
	case "Integer":
		m.Set(f("value"), protoreflect.ValueOfInt32(int32(g.r.Uint64())))
	case "PositiveInt", "UnsignedInt":
		m.Set(f("value"), protoreflect.ValueOfUint32(uint32(g.r.Uint64()>>uint(g.n(32)))))
	case "Base64Binary":
		b := make([]byte, g.n(40))
		for i := range b {
			b[i] = byte(g.r.Uint64())
		}
		m.Set(f("value"), protoreflect.ValueOfBytes(b))
		if g.chance(15) {
			g.stride(m)
		}
	case "Id", "ReferenceId":
		m.Set(f("value"), protoreflect.ValueOfString(g.id()))
	default:
		v := f("value")
		if v == nil {
			break
		}
		switch v.Kind() {
		case protoreflect.StringKind:
			m.Set(v, protoreflect.ValueOfString(g.str()))
		case protoreflect.EnumKind:
			vals := v.Enum().Values()
			m.Set(v, protoreflect.ValueOfEnum(vals.Get(g.n(vals.Len())).Number()))
		}
	}
	g.primitiveExtras(m, depth)
}

// primitiveExtras gives a primitive an id, extensions, or the
// primitiveHasNoValue extension, now and then.
func (g *gen) primitiveExtras(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	if id := md.Fields().ByName("id"); id != nil && g.chance(8) {
		m.Set(id, protoreflect.ValueOfMessage((&d4pb.String{Value: g.id()}).ProtoReflect()))
	}
	ext := md.Fields().ByName("extension")
	if ext == nil || depth > 5 || g.budget <= 0 {
		return
	}
	if g.chance(8) {
		l := m.Mutable(ext).List()
		for k := 1 + g.n(2); k > 0; k-- {
			e := l.NewElement()
			g.fill(e.Message(), depth+1)
			l.Append(e)
		}
	}
	if g.chance(4) {
		m.Mutable(ext).List().Append(protoreflect.ValueOfMessage((&d4pb.Extension{
			Url:   &d4pb.Uri{Value: "https://g.co/fhir/StructureDefinition/primitiveHasNoValue"},
			Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Boolean{Boolean: &d4pb.Boolean{Value: true}}},
		}).ProtoReflect()))
	}
}

// stride adds jsonformat's base64Binary separatorStride extension.
func (g *gen) stride(m protoreflect.Message) {
	sub := func(url string, v *d4pb.Extension_ValueX) *d4pb.Extension {
		return &d4pb.Extension{Url: &d4pb.Uri{Value: url}, Value: v}
	}
	x := &d4pb.Extension{
		Url: &d4pb.Uri{Value: "https://g.co/fhir/StructureDefinition/base64Binary-separatorStride"},
		Extension: []*d4pb.Extension{
			sub("separator", &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_StringValue{StringValue: &d4pb.String{Value: strings.Repeat(" ", 1+g.n(3))}}}),
			sub("stride", &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_PositiveInt{PositiveInt: &d4pb.PositiveInt{Value: uint32(1 + g.n(20))}}}),
		},
	}
	m.Mutable(m.Descriptor().Fields().ByName("extension")).List().Append(protoreflect.ValueOfMessage(x.ProtoReflect()))
}

var zones = []string{"Z", "Z", "Z", "UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "+05:30", "-08:00", "+00:00", "-00:00", "+14:00", "Local", ""}

// dateTime sets a date, dateTime, instant or time: an instant in
// microseconds from year 1 to 9999 (now and then any int64 or one near
// the epoch), each precision the type has (now and then none), a zone.
func (g *gen) dateTime(m protoreflect.Message, md protoreflect.MessageDescriptor) {
	var us int64
	switch g.n(10) {
	case 0:
		us = int64(g.r.Uint64() >> 1)
		if g.chance(50) {
			us = -us
		}
	case 1:
		us = int64(g.n(2_000_000)) - 1_000_000
	default:
		const lo, hi = -62135596800_000000, 253402300799_000000 // 0001-01-01 to 9999-12-31
		us = lo + int64(g.r.Uint64()%uint64(hi-lo))
	}
	if md.Name() == "Time" {
		us = int64(g.r.Uint64() % 86400_000000)
	}
	m.Set(md.Fields().ByName("value_us"), protoreflect.ValueOfInt64(us))
	vals := md.Fields().ByName("precision").Enum().Values()
	p := vals.Get(g.n(vals.Len())).Number()
	if p == 0 && !g.chance(5) {
		p = vals.Get(vals.Len() - 1).Number()
	}
	m.Set(md.Fields().ByName("precision"), protoreflect.ValueOfEnum(p))
	if tz := md.Fields().ByName("timezone"); tz != nil {
		m.Set(tz, protoreflect.ValueOfString(zones[g.n(len(zones))]))
	}
}

// decimal returns a decimal string as written in a record: digits with
// trailing zeros kept, a sign, an exponent now and then; one in fifty is
// not a number at all (both writers must refuse it).
func (g *gen) decimal() string {
	var b strings.Builder
	if g.chance(30) {
		b.WriteByte('-')
	}
	if g.chance(30) {
		b.WriteByte('0')
	} else {
		b.WriteString(strconv.FormatUint(g.r.Uint64()>>uint(g.n(64)), 10))
	}
	if g.chance(60) {
		b.WriteByte('.')
		for k := 1 + g.n(6); k > 0; k-- {
			b.WriteByte(byte('0' + g.n(10)))
		}
	}
	if g.chance(10) {
		b.WriteString([]string{"e", "E", "e+", "e-", "E-"}[g.n(5)])
		b.WriteString(strconv.Itoa(g.n(400)))
	}
	if g.chance(2) {
		return []string{"", "01", "1.", ".5", "+1", "abc", "1e", "--1", " 7 ", "NaN"}[g.n(10)]
	}
	return b.String()
}

// pieces are what random strings are made of.
var pieces = []string{
	"a", "Z", "0", " ", "mmol/L", "Blood pressure", "<", ">", "&", "<div>", "&amp;", "'", "\"", "\\", "/",
	"\n", "\r", "\t", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f", "\u2028", "\u2029", "é", "ß", "Ωμέγα",
	"日本語", "עברית", "😀", "\U0001F9EA", "\ufffd", "\xff", "\xc3", "\xe2\x80", "%", "{}", "[]", ":", ",",
	"<div xmlns=\"http://www.w3.org/1999/xhtml\">", "</div>", "FREETEXT-x",
}

func (g *gen) str() string {
	var b strings.Builder
	for k := g.n(8); k > 0; k-- {
		s := pieces[g.n(len(pieces))]
		if g.contained && !utf8.ValidString(s) {
			s = "\ufffd" // a contained resource is packed in an Any: valid UTF-8 only
		}
		b.WriteString(s)
	}
	if b.Len() == 0 && g.chance(70) {
		b.WriteString("x")
	}
	return b.String()
}

func (g *gen) id() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
	b := make([]byte, 1+g.n(20))
	for i := range b {
		b[i] = alphabet[g.n(len(alphabet))]
	}
	return string(b)
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))}
}
