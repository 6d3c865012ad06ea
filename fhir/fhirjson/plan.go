package fhirjson

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// A plan says, once per message type, how jsonformat writes it: which
// fields, under which keys, in which order, and how each value is written;
// and where each field lives in the generated Go struct, which the walker
// reads with package reflect (protoreflect's accessors cost a
// reflect.NewAt per field, most of a protoreflect walker's time). Plans are
// built together for the whole R4 ContainedResource closure (about 1,200
// message types) on first use, and only read afterwards.

// kind is how a message is written when it is a field's value.
type kind uint8

const (
	kindObject       kind = iota // a JSON object of its set fields
	kindPrimitive                // a FHIR primitive: a JSON value, and "_name" for its id and extensions
	kindContained                // ContainedResource: the resource it holds, with resourceType
	kindAny                      // google.protobuf.Any: under "contained", a ContainedResource inside
	kindReference                // Reference: typed ids and fragments written back as "reference"
	kindBadReference             // carries fhir_reference_type but is not the R4 Reference
)

// prim is how a primitive's value is written.
type prim uint8

const (
	primString prim = iota
	primBool
	primInt
	primUint
	primDecimal
	primDate
	primDateTime
	primTime
	primInstant
	primBase64
	primEnum
	primUnsupported // jsonformat refuses it
)

// msgPlan is the plan of one message type.
type msgPlan struct {
	desc   protoreflect.MessageDescriptor
	kind   kind
	goType reflect.Type  // the generated struct
	zero   reflect.Value // its zero value: what a nil element reads as

	fields []*fieldPlan // plain message fields, in declaration order
	oneofs []*oneofPlan
	nonMsg []int // Go indexes of scalar fields of a non-primitive (set: an error, as in jsonformat)

	// resourceType: the key's rank among this message's keys and the
	// quoted type name (resources only).
	rtRank int32
	rtName []byte

	// Primitives: Go field indexes (-1 absent) and how the value is written.
	prim                       prim
	valueIdx, idIdx, extIdx    int
	tzIdx, precIdx, historyIdx int
	prec                       [6]int64 // by precYear...precMicro; -1 absent
	enumCodes                  map[int64][]byte
	ext, id, history           *msgPlan // plans of the extension, id and history types
	urlIdx, urlValueIdx        int      // an extension's url (a Uri) and the Uri's value
	uri, fragment              *fieldPlan
	containedOneof             *oneofPlan
}

// oneofPlan is a oneof: the Go interface field holding a wrapper, and the
// member each wrapper type holds.
type oneofPlan struct {
	name    protoreflect.Name
	idx     int
	members map[reflect.Type]*fieldPlan // wrapper pointer type -> member
}

// fieldPlan is one field of a message: where it is, its keys and their
// ranks in the parent, and the plan of its value's message type.
type fieldPlan struct {
	fd       protoreflect.FieldDescriptor
	msg      *msgPlan
	idx      int // Go struct field index (a oneof member: 0, in its wrapper)
	repeated bool
	// contained: the field is named "contained" (an Any there holds a
	// ContainedResource).
	contained bool
	// refType: a Reference's typed member (patient_id): its resource type.
	refType string
	// badChoice: a choice type without exactly one oneof (none in R4).
	badChoice bool

	key, extKey   []byte // `"name":` and `"_name":`
	rank, extRank int32

	// A singular field of a choice type is written as its set member,
	// name+Type: the choice struct's oneof and the member plans, with the
	// keys and ranks they have in this field's parent.
	choice *oneofPlan
}

const (
	precYear = iota
	precMonth
	precDay
	precSecond
	precMilli
	precMicro
)

var precNames = [6]string{"YEAR", "MONTH", "DAY", "SECOND", "MILLISECOND", "MICROSECOND"}

var (
	planOnce sync.Once
	rootPlan *msgPlan
	planErr  error
)

// containedPlan returns the plan of R4 ContainedResource, building every
// plan it reaches on first use.
func containedPlan() (*msgPlan, error) {
	planOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				planErr = fmt.Errorf("fhirjson: cannot plan the R4 protos: %v", r)
			}
		}()
		b := &builder{plans: map[protoreflect.FullName]*msgPlan{}}
		rootPlan = b.plan((&bcrpb.ContainedResource{}).ProtoReflect().Descriptor())
	})
	return rootPlan, planErr
}

type builder struct {
	plans map[protoreflect.FullName]*msgPlan
}

func isPrimitive(md protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(md.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue) == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE
}

func isResource(md protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(md.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue) == apb.StructureDefinitionKindValue_KIND_RESOURCE
}

func isChoice(md protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(md.Options(), apb.E_IsChoiceType).(bool)
}

const referenceName = "google.fhir.r4.core.Reference"

// goLayout returns a message's generated struct type, the Go index of
// each field by number, and of each oneof's interface by name.
func goLayout(md protoreflect.MessageDescriptor) (reflect.Type, map[protoreflect.FieldNumber]int, map[protoreflect.Name]int) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		panic(fmt.Sprintf("%s: %v", md.FullName(), err))
	}
	t := reflect.TypeOf(mt.Zero().Interface())
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("%s: Go type %v is not a pointer to a struct", md.FullName(), t))
	}
	t = t.Elem()
	byNum := map[protoreflect.FieldNumber]int{}
	byOneof := map[protoreflect.Name]int{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if o := sf.Tag.Get("protobuf_oneof"); o != "" {
			byOneof[protoreflect.Name(o)] = i
			continue
		}
		if n, ok := tagNumber(sf.Tag.Get("protobuf")); ok {
			byNum[n] = i
		}
	}
	return t, byNum, byOneof
}

// tagNumber reads the field number of a protobuf struct tag
// ("bytes,1,opt,name=id,proto3").
func tagNumber(tag string) (protoreflect.FieldNumber, bool) {
	parts := strings.Split(tag, ",")
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return protoreflect.FieldNumber(n), err == nil
}

// wrapperType returns the Go type of the wrapper a oneof member is held
// in (a *Reference_PatientId), found by setting the member on a new
// message.
func wrapperType(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, oneofIdx int) reflect.Type {
	mt, _ := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	m := mt.New()
	m.Set(fd, m.NewField(fd))
	return reflect.ValueOf(m.Interface()).Elem().Field(oneofIdx).Elem().Type()
}

func (b *builder) plan(md protoreflect.MessageDescriptor) *msgPlan {
	if p := b.plans[md.FullName()]; p != nil {
		return p
	}
	t, byNum, byOneof := goLayout(md)
	p := &msgPlan{desc: md, goType: t, zero: reflect.Zero(t), rtRank: -1,
		valueIdx: -1, idIdx: -1, extIdx: -1, tzIdx: -1, precIdx: -1, historyIdx: -1, urlIdx: -1, urlValueIdx: -1}
	b.plans[md.FullName()] = p

	switch {
	case isPrimitive(md):
		p.kind = kindPrimitive
	case md.Name() == "ContainedResource":
		p.kind = kindContained
	case md.FullName() == "google.protobuf.Any":
		p.kind = kindAny
	case proto.HasExtension(md.Options(), apb.E_FhirReferenceType):
		p.kind = kindReference
		if md.FullName() != referenceName {
			p.kind = kindBadReference
		}
	}
	if isResource(md) {
		p.rtName = quoted(string(md.Name()))
	}

	// Fields, and every key the message can write.
	type keyed struct {
		name string
		set  func(rank int32)
	}
	var keys []keyed
	addKeys := func(f *fieldPlan, name string, withExt bool) {
		f.key = append(quoted(name), ':')
		keys = append(keys, keyed{name, func(r int32) { f.rank = r }})
		if withExt {
			f.extKey = append(quoted("_"+name), ':')
			keys = append(keys, keyed{"_" + name, func(r int32) { f.extRank = r }})
		}
	}
	oneofs := map[protoreflect.Name]*oneofPlan{}
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		od := fd.ContainingOneof()
		if fd.Message() == nil || fd.IsMap() {
			if od == nil {
				p.nonMsg = append(p.nonMsg, byNum[fd.Number()])
			}
			continue
		}
		f := &fieldPlan{fd: fd, repeated: fd.Cardinality() == protoreflect.Repeated, contained: fd.JSONName() == "contained"}
		f.msg = b.plan(fd.Message())
		if od == nil {
			f.idx = byNum[fd.Number()]
			p.fields = append(p.fields, f)
		} else {
			o := oneofs[od.Name()]
			if o == nil {
				o = &oneofPlan{name: od.Name(), idx: byOneof[od.Name()], members: map[reflect.Type]*fieldPlan{}}
				oneofs[od.Name()] = o
				p.oneofs = append(p.oneofs, o)
			}
			o.members[wrapperType(md, fd, o.idx)] = f
		}
		cm := fd.Message()
		if !f.repeated && isChoice(cm) {
			if cm.Oneofs().Len() != 1 {
				f.badChoice = true // jsonformat refuses it when set
				continue
			}
			co := cm.Oneofs().Get(0)
			_, _, coIdx := goLayout(cm)
			f.choice = &oneofPlan{name: co.Name(), idx: coIdx[co.Name()], members: map[reflect.Type]*fieldPlan{}}
			for j := 0; j < co.Fields().Len(); j++ {
				m := co.Fields().Get(j)
				if m.Message() == nil {
					continue
				}
				v := &fieldPlan{fd: m, msg: b.plan(m.Message()), contained: m.JSONName() == "contained"}
				addKeys(v, snakeToLowerCamel(string(fd.Name())+"_"+camelToSnake(m.JSONName())), isPrimitive(m.Message()))
				f.choice.members[wrapperType(cm, m, f.choice.idx)] = v
			}
			continue
		}
		addKeys(f, fd.JSONName(), isPrimitive(fd.Message()))
	}
	if p.rtName != nil {
		keys = append(keys, keyed{"resourceType", func(r int32) { p.rtRank = r }})
	}
	// jsonformat builds a map and encoding/json writes it with its keys
	// sorted bytewise: the rank is the position in that order.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	for i, k := range keys {
		k.set(int32(i))
	}

	idx := func(name string) int {
		if fd := fs.ByName(protoreflect.Name(name)); fd != nil && fd.ContainingOneof() == nil {
			return byNum[fd.Number()]
		}
		return -1
	}
	if p.kind == kindPrimitive {
		b.primitive(p, idx)
	}
	if p.kind == kindReference {
		b.reference(p)
	}
	if p.kind == kindContained {
		for _, o := range p.oneofs {
			if o.name == "oneof_resource" {
				p.containedOneof = o
			}
		}
	}
	if uf := fs.ByName("url"); uf != nil && uf.Message() != nil && uf.Cardinality() != protoreflect.Repeated && uf.ContainingOneof() == nil {
		if vf := uf.Message().Fields().ByName("value"); vf != nil && vf.Kind() == protoreflect.StringKind {
			_, un, _ := goLayout(uf.Message())
			p.urlIdx, p.urlValueIdx = idx("url"), un[vf.Number()]
		}
	}
	return p
}

func (b *builder) primitive(p *msgPlan, idx func(string) int) {
	md := p.desc
	fs := md.Fields()
	p.valueIdx = idx("value")
	p.idIdx = idx("id")
	if p.idIdx >= 0 {
		p.id = b.plan(fs.ByName("id").Message())
	}
	if e := fs.ByName("extension"); e != nil && e.Cardinality() == protoreflect.Repeated && e.Message() != nil {
		p.extIdx = idx("extension")
		p.ext = b.plan(e.Message())
	}
	if h := fs.ByName("history"); h != nil && h.Message() != nil {
		p.historyIdx = idx("history")
		p.history = b.plan(h.Message())
	}
	for i := range p.prec {
		p.prec[i] = -1
	}
	if pf := fs.ByName("precision"); pf != nil && pf.Enum() != nil {
		p.precIdx = idx("precision")
		for i, n := range precNames {
			if v := pf.Enum().Values().ByName(protoreflect.Name(n)); v != nil {
				p.prec[i] = int64(v.Number())
			}
		}
	}
	if tz := fs.ByName("timezone"); tz != nil && tz.Kind() == protoreflect.StringKind {
		p.tzIdx = idx("timezone")
	}
	value := fs.ByName("value")
	switch md.Name() {
	case "Base64Binary":
		p.prim = primBase64
	case "Canonical", "Code", "Markdown", "Oid", "String", "Uri", "Url", "Uuid", "Xhtml", "ReferenceId", "Id":
		p.prim = primString
	case "Boolean":
		p.prim = primBool
	case "Integer":
		p.prim = primInt
	case "PositiveInt", "UnsignedInt":
		p.prim = primUint
	case "Decimal":
		p.prim = primDecimal
	case "Date":
		p.prim = primDate
	case "DateTime":
		p.prim = primDateTime
	case "Time":
		p.prim = primTime
	case "Instant":
		p.prim = primInstant
	default:
		p.prim = primUnsupported
		if !proto.HasExtension(md.Options(), apb.E_FhirValuesetUrl) || value == nil {
			return
		}
		switch value.Kind() {
		case protoreflect.StringKind:
			p.prim = primString
		case protoreflect.EnumKind:
			p.prim = primEnum
			p.enumCodes = map[int64][]byte{}
			vals := value.Enum().Values()
			for i := 0; i < vals.Len(); i++ {
				ev := vals.Get(i)
				code := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string)
				if code == "" {
					code = strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
				}
				p.enumCodes[int64(ev.Number())] = quoted(code)
			}
		}
	}
	// The value field must have the kind its writer reads.
	want := map[prim][]protoreflect.Kind{
		primBase64: {protoreflect.BytesKind}, primString: {protoreflect.StringKind}, primBool: {protoreflect.BoolKind},
		primInt:     {protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind},
		primUint:    {protoreflect.Uint32Kind, protoreflect.Fixed32Kind},
		primDecimal: {protoreflect.StringKind},
	}
	if ks, ok := want[p.prim]; ok && (value == nil || !slices.Contains(ks, value.Kind())) {
		p.prim = primUnsupported
	}
	// Dates and times: the instant in microseconds, the precision, and
	// (but for time) the zone.
	switch p.prim {
	case primDate, primDateTime, primInstant, primTime:
		us := fs.ByName("value_us")
		ok := us != nil && us.Kind() == protoreflect.Int64Kind && p.precIdx >= 0
		if p.prim != primTime {
			ok = ok && p.tzIdx >= 0
		}
		if !ok {
			p.prim = primUnsupported
			return
		}
		p.valueIdx = idx("value_us")
	}
}

// reference finds Reference's uri (the "reference" key) and fragment
// members, and gives each typed id member (patient_id) the resource type
// it names (jsonformat's referenced_fhir_type table).
func (b *builder) reference(p *msgPlan) {
	rd := (&d4pb.Reference{}).ProtoReflect().Descriptor()
	od := rd.Oneofs().ByName("reference")
	for _, o := range p.oneofs {
		if o.name != od.Name() {
			continue
		}
		for _, f := range o.members {
			switch {
			case f.fd.Name() == "uri":
				p.uri = f
			case f.fd.Name() == "fragment":
				p.fragment = f
			case strings.HasSuffix(string(f.fd.Name()), "_id"):
				f.refType = proto.GetExtension(f.fd.Options(), apb.E_ReferencedFhirType).(string)
			}
		}
	}
	if p.uri == nil || p.fragment == nil {
		panic("R4 Reference without uri or fragment")
	}
}

func quoted(s string) []byte { return appendString(nil, s) }

// camelToSnake and snakeToLowerCamel are jsonformat's (jsonpbhelper)
// name conversions, which make a choice member's key: value + quantity ->
// valueQuantity, value + base64Binary -> valueBase64Binary.
func camelToSnake(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if !unicode.IsLower(c) && len(out) > 0 {
			out = append(out, '_')
		}
		out = append(out, unicode.ToLower(c))
	}
	return string(out)
}

func snakeToLowerCamel(s string) string {
	if s == "" {
		return s
	}
	out := make([]rune, 0, len(s))
	upper := true
	for _, c := range s {
		switch {
		case c == '_':
			upper = true
		case upper:
			upper = false
			out = append(out, unicode.ToUpper(c))
		default:
			out = append(out, unicode.ToLower(c))
		}
	}
	camel := string(out)
	return strings.ToLower(camel[:1]) + camel[1:]
}
