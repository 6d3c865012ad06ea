// Package fhirjson writes the R4 JSON of google/fhir/go R4 protos, byte
// for byte what google/fhir/go's jsonformat (NewMarshaller(false, "", "",
// R4)) writes, at several times its speed.
//
// jsonformat builds a map per JSON object, boxes every value, rewrites the
// proto's references in place, and renders the maps with encoding/json.
// This package walks the proto once, following a plan made once per
// message type from its descriptor (plan.go): the keys in the order
// encoding/json sorts them, how each primitive is written, which fields are
// choice types, references or contained resources, and where each field
// lives in the generated struct, which it reads with package reflect. It
// writes straight into one buffer and never writes to the proto.
//
// jsonformat stays the reference: fhirjsontest compares the two on every
// resource the gateway maps from the test extracts, the shared samples and
// fragments, on random resources of every type we emit, and under fuzzing.
// What jsonformat does, this package does, quirks included:
//   - keys sorted bytewise, "resourceType" among them;
//   - a set but empty message is {};
//   - a primitive carrying the primitiveHasNoValue extension has no value;
//     that extension is not written, the others are, under "_name";
//   - a typed reference (patient_id) is written "Patient/x" (with
//     "/_history/h"), a fragment "#x", under "reference", without the id's
//     own extensions;
//   - decimals are written as their string holds them (80.000 stays
//     80.000), checked and compacted as encoding/json does a raw value;
//   - strings escaped as encoding/json with SetEscapeHTML(false): <, > and &
//     as they are, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD;
//   - dates, dateTimes and instants in their precision and their time zone
//     ("Z" written as Z, any other zone as an offset);
//   - what jsonformat refuses (an unset choice, a decimal that is not a
//     JSON number, a date without precision, an unknown zone), refused.
package fhirjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Marshal returns the compact R4 JSON of res, as jsonformat writes it. It
// never writes to res, so one proto may be written many times and from
// several goroutines.
func Marshal(res *bcrpb.ContainedResource) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf = e.buf[:0]
	if err := e.top(res); err != nil {
		return nil, err
	}
	out := make([]byte, len(e.buf))
	copy(out, e.buf)
	if cap(e.buf) > maxPooled {
		e.buf = nil
	}
	return out, nil
}

const maxPooled = 1 << 20

var encoders = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 8192)} }}

// Error is a proto jsonformat would refuse to write (an unset choice, an
// invalid decimal, a date without precision...). Its message names the
// field or type, never a value.
type Error struct {
	Field string
	Why   string
}

func (e *Error) Error() string { return "fhirjson: " + e.Field + ": " + e.Why }

func fail(f *fieldPlan, why string) error {
	return &Error{Field: string(f.fd.FullName()), Why: why}
}

func failMsg(p *msgPlan, why string) error {
	return &Error{Field: string(p.desc.FullName()), Why: why}
}

// maxDepth bounds recursion (extensions of extensions...) far beyond any
// real resource, so that a proto made cyclic by mistake is an error, not
// a stack overflow (jsonformat has no bound).
const maxDepth = 10000

type encoder struct {
	buf   []byte
	depth int
}

func (e *encoder) top(res *bcrpb.ContainedResource) error {
	p, err := containedPlan()
	if err != nil {
		return err
	}
	if res == nil {
		return failMsg(p, "no resource set")
	}
	return e.contained(p, reflect.ValueOf(res).Elem())
}

// elem returns the struct a message pointer points to; nil reads as the
// empty message, as protoreflect reads it.
func elem(p *msgPlan, v reflect.Value) reflect.Value {
	if v.IsNil() {
		return p.zero
	}
	return v.Elem()
}

// member returns the member set in a oneof (its plan and the message
// pointer), or nil when none is set.
func member(o *oneofPlan, v reflect.Value) (*fieldPlan, reflect.Value, bool) {
	iv := v.Field(o.idx)
	if iv.IsNil() {
		return nil, reflect.Value{}, true
	}
	w := iv.Elem()
	if w.IsNil() {
		return nil, reflect.Value{}, true // a nil wrapper: unset, as protoreflect has it
	}
	f := o.members[w.Type()]
	if f == nil {
		return nil, reflect.Value{}, false
	}
	return f, w.Elem().Field(0), true
}

// contained writes a ContainedResource: the resource it holds.
func (e *encoder) contained(p *msgPlan, v reflect.Value) error {
	if p.containedOneof == nil {
		return failMsg(p, "no resource oneof")
	}
	f, mv, ok := member(p.containedOneof, v)
	if !ok || f == nil {
		return failMsg(p, "no resource set")
	}
	return e.object(f.msg, elem(f.msg, mv), true)
}

// item is one key of an object being written.
type item struct {
	rank int32
	what uint8 // itemValue, itemExt, itemRef, itemType
	f    *fieldPlan
	v    reflect.Value // the field's value: a message pointer or a slice of them
	ref  string        // itemRef: a reference written back from a typed id or a fragment
}

const (
	itemValue = iota
	itemExt   // a primitive's "_name"
	itemRef   // a Reference's "reference" written back
	itemType  // "resourceType"
)

// object writes a message's set fields as a JSON object, with
// resourceType when it is written as a resource.
func (e *encoder) object(p *msgPlan, v reflect.Value, resource bool) error {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxDepth {
		return failMsg(p, "nested too deep")
	}
	var store [16]item
	items := store[:0]
	for _, i := range p.nonMsg {
		if !v.Field(i).IsZero() {
			return failMsg(p, "a field is not a message")
		}
	}
	var err error
	for _, f := range p.fields {
		fv := v.Field(f.idx)
		if f.repeated {
			if fv.Len() == 0 {
				continue
			}
		} else if fv.IsNil() {
			continue
		}
		if items, err = collect(items, f, fv); err != nil {
			return err
		}
	}
	for _, o := range p.oneofs {
		f, mv, ok := member(o, v)
		if !ok {
			return failMsg(p, "unknown oneof member")
		}
		if f == nil {
			continue
		}
		if p.kind == kindReference && f != p.uri && (f == p.fragment || f.refType != "") {
			items = append(items, item{rank: p.uri.rank, what: itemRef, f: p.uri, ref: referenceText(p, f, elem(f.msg, mv))})
			continue
		}
		if items, err = collect(items, f, mv); err != nil {
			return err
		}
	}
	if resource && p.rtName != nil {
		items = append(items, item{rank: p.rtRank, what: itemType})
	}
	// Insertion sort: objects hold a handful of keys.
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].rank < items[j-1].rank; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
	e.buf = append(e.buf, '{')
	for i := range items {
		it := &items[i]
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		switch it.what {
		case itemType:
			e.buf = append(e.buf, `"resourceType":`...)
			e.buf = append(e.buf, p.rtName...)
		case itemRef:
			e.buf = append(e.buf, it.f.key...)
			e.buf = appendString(e.buf, it.ref)
		case itemExt:
			e.buf = append(e.buf, it.f.extKey...)
			if err := e.primitiveExt(it.f, it.v); err != nil {
				return err
			}
		default:
			e.buf = append(e.buf, it.f.key...)
			if err := e.value(it.f, it.v); err != nil {
				return err
			}
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// collect adds the keys field f with value v writes: its value and, for a
// primitive, "_name" when it has an id or extensions. A choice type adds
// the keys of its set member.
func collect(items []item, f *fieldPlan, v reflect.Value) ([]item, error) {
	if f.badChoice {
		return items, fail(f, "choice type without one oneof")
	}
	if f.choice != nil {
		vf, mv, ok := member(f.choice, elem(f.msg, v))
		if !ok {
			return items, fail(f, "unknown choice")
		}
		if vf == nil {
			return items, fail(f, "no choice set")
		}
		f, v = vf, mv
	}
	p := f.msg
	if p.kind != kindPrimitive {
		return append(items, item{rank: f.rank, f: f, v: v}), nil
	}
	var hasValue, hasExt bool
	if f.repeated {
		for i := 0; i < v.Len(); i++ {
			val, ext := primitiveHas(p, elem(p, v.Index(i)))
			hasValue = hasValue || val
			hasExt = hasExt || ext
		}
	} else {
		hasValue, hasExt = primitiveHas(p, elem(p, v))
	}
	if p.idIdx < 0 {
		return items, fail(f, "primitive type has no id field")
	}
	if hasValue {
		if p.prim == primUnsupported {
			return items, fail(f, "not a supported primitive type")
		}
		items = append(items, item{rank: f.rank, f: f, v: v})
	}
	if hasExt {
		items = append(items, item{rank: f.extRank, what: itemExt, f: f, v: v})
	}
	return items, nil
}

// Extension URLs jsonformat gives a meaning of its own.
const (
	noValueURL = "https://g.co/fhir/StructureDefinition/primitiveHasNoValue"
	strideURL  = "https://g.co/fhir/StructureDefinition/base64Binary-separatorStride"
)

// extURL returns an extension's url ("" when unset, which matches no
// special URL, as in jsonformat).
func extURL(p *msgPlan, x reflect.Value) string {
	if p.urlIdx < 0 {
		return ""
	}
	u := x.Field(p.urlIdx)
	if u.IsNil() {
		return ""
	}
	return u.Elem().Field(p.urlValueIdx).String()
}

// extInfo tells of a primitive's extensions: how many, and which URL
// jsonformat leaves out of its "_name" ("" for none) with how many carry
// it: primitiveHasNoValue when present (the value is then not written),
// else a base64Binary's separatorStride (which spaces the value).
type extInfo struct {
	n, dropN int
	drop     string
	noValue  bool
}

func primitiveExts(p *msgPlan, v reflect.Value) extInfo {
	var x extInfo
	if p.extIdx < 0 {
		return x
	}
	l := v.Field(p.extIdx)
	x.n = l.Len()
	strides := 0
	for i := 0; i < x.n; i++ {
		switch extURL(p.ext, elem(p.ext, l.Index(i))) {
		case noValueURL:
			x.dropN++
		case strideURL:
			strides++
		}
	}
	switch {
	case x.dropN > 0:
		x.noValue, x.drop = true, noValueURL
	case strides > 0 && p.prim == primBase64:
		x.drop, x.dropN = strideURL, strides
	}
	return x
}

// primitiveHas reports whether a primitive writes a value and whether it
// writes "_name" (an id, or extensions jsonformat keeps).
func primitiveHas(p *msgPlan, v reflect.Value) (value, ext bool) {
	x := primitiveExts(p, v)
	value = !x.noValue
	if value && p.prim == primEnum && v.Field(p.valueIdx).Int() == 0 {
		value = false
	}
	ext = x.n > x.dropN || (p.idIdx >= 0 && !v.Field(p.idIdx).IsNil())
	return value, ext
}

// value writes field f's value v (a slice for a repeated field).
func (e *encoder) value(f *fieldPlan, v reflect.Value) error {
	p := f.msg
	if !f.repeated {
		return e.single(f, elem(p, v), v)
	}
	e.buf = append(e.buf, '[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		ptr := v.Index(i)
		m := elem(p, ptr)
		if p.kind == kindPrimitive {
			if has, _ := primitiveHas(p, m); !has {
				e.buf = append(e.buf, "null"...)
				continue
			}
		}
		if err := e.single(f, m, ptr); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// single writes one value of field f: m is the message, ptr its pointer.
func (e *encoder) single(f *fieldPlan, m, ptr reflect.Value) error {
	p := f.msg
	switch p.kind {
	case kindPrimitive:
		return e.primitive(f, p, m)
	case kindContained:
		return e.contained(p, m)
	case kindAny:
		if !f.contained {
			return fail(f, "google.protobuf.Any outside contained")
		}
		a, ok := ptr.Interface().(*anypb.Any)
		if !ok || a == nil {
			return fail(f, "not an Any")
		}
		cr := &bcrpb.ContainedResource{}
		if err := a.UnmarshalTo(cr); err != nil {
			return fail(f, "contained resource does not unmarshal")
		}
		root, err := containedPlan()
		if err != nil {
			return err
		}
		return e.contained(root, reflect.ValueOf(cr).Elem())
	case kindBadReference:
		return fail(f, "reference type is not R4")
	}
	return e.object(p, m, false)
}

// referenceText returns the reference jsonformat writes back for a
// fragment or a typed id ("#x", "Patient/x", "Patient/x/_history/2").
func referenceText(p *msgPlan, f *fieldPlan, m reflect.Value) string {
	if f == p.fragment {
		return "#" + m.Field(f.msg.valueIdx).String()
	}
	s := f.refType + "/" + m.Field(f.msg.valueIdx).String()
	if h := f.msg.historyIdx; h >= 0 {
		if hv := m.Field(h); !hv.IsNil() {
			if id := hv.Elem().Field(f.msg.history.valueIdx).String(); id != "" {
				s += "/_history/" + id
			}
		}
	}
	return s
}

// primitiveExt writes a primitive's "_name": an object with its id and
// extensions, or for a repeated field an array of them (null where none).
func (e *encoder) primitiveExt(f *fieldPlan, v reflect.Value) error {
	p := f.msg
	if !f.repeated {
		return e.extObject(p, elem(p, v))
	}
	e.buf = append(e.buf, '[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		m := elem(p, v.Index(i))
		if _, has := primitiveHas(p, m); !has {
			e.buf = append(e.buf, "null"...)
			continue
		}
		if err := e.extObject(p, m); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *encoder) extObject(p *msgPlan, m reflect.Value) error {
	e.buf = append(e.buf, '{')
	sep := false
	if x := primitiveExts(p, m); x.n > x.dropN {
		l := m.Field(p.extIdx)
		e.buf = append(e.buf, `"extension":[`...)
		n := 0
		for i := 0; i < l.Len(); i++ {
			xm := elem(p.ext, l.Index(i))
			if x.drop != "" && extURL(p.ext, xm) == x.drop {
				continue
			}
			if n > 0 {
				e.buf = append(e.buf, ',')
			}
			n++
			if err := e.object(p.ext, xm, false); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		sep = true
	}
	if p.idIdx >= 0 {
		if id := m.Field(p.idIdx); !id.IsNil() {
			if sep {
				e.buf = append(e.buf, ',')
			}
			e.buf = append(e.buf, `"id":`...)
			e.buf = appendString(e.buf, id.Elem().Field(p.id.valueIdx).String())
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// primitive writes a primitive's JSON value (the caller knows it has one).
func (e *encoder) primitive(f *fieldPlan, p *msgPlan, m reflect.Value) error {
	switch p.prim {
	case primString:
		e.buf = appendString(e.buf, m.Field(p.valueIdx).String())
	case primBool:
		e.buf = strconv.AppendBool(e.buf, m.Field(p.valueIdx).Bool())
	case primInt:
		e.buf = strconv.AppendInt(e.buf, m.Field(p.valueIdx).Int(), 10)
	case primUint:
		e.buf = strconv.AppendUint(e.buf, m.Field(p.valueIdx).Uint(), 10)
	case primDecimal:
		return e.decimal(f, m.Field(p.valueIdx).String())
	case primEnum:
		code, ok := p.enumCodes[m.Field(p.valueIdx).Int()]
		if !ok {
			return fail(f, "code not in its value set")
		}
		e.buf = append(e.buf, code...)
	case primDate, primDateTime, primInstant, primTime:
		return e.dateTime(f, p, m)
	case primBase64:
		return e.base64(f, p, m)
	default:
		return fail(f, "not a supported primitive type")
	}
	return nil
}

// decimal writes a decimal as its string holds it. jsonformat hands the
// string to encoding/json as a raw value, which checks and compacts it.
func (e *encoder) decimal(f *fieldPlan, s string) error {
	if isNumber(s) {
		e.buf = append(e.buf, s...)
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return fail(f, "decimal is not a JSON number")
	}
	e.buf = append(e.buf, b.Bytes()...)
	return nil
}

// isNumber reports whether s is a JSON number exactly (RFC 8259 grammar).
func isNumber(s string) bool {
	i, n := 0, len(s)
	if i < n && s[i] == '-' {
		i++
	}
	switch {
	case i < n && s[i] == '0':
		i++
	case i < n && s[i] >= '1' && s[i] <= '9':
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < n && s[i] == '.' {
		i++
		if i == n || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == n || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == n
}

// Time layouts, jsonformat's (jsonpbhelper).
const (
	layoutYear        = "2006"
	layoutMonth       = "2006-01"
	layoutDay         = "2006-01-02"
	layoutSeconds     = "2006-01-02T15:04:05-07:00"
	layoutMillis      = "2006-01-02T15:04:05.000-07:00"
	layoutMicros      = "2006-01-02T15:04:05.000000-07:00"
	layoutSecondsUTC  = "2006-01-02T15:04:05Z"
	layoutMillisUTC   = "2006-01-02T15:04:05.000Z"
	layoutMicrosUTC   = "2006-01-02T15:04:05.000000Z"
	layoutTimeSecond  = "15:04:05"
	layoutTimeMilli   = "15:04:05.000"
	layoutTimeMicro   = "15:04:05.000000"
	utc               = "Z"
	errNoPrecision    = "invalid precision"
	errBadTimezone    = "invalid time zone"
	errStrideNotWhole = "invalid base64Binary separator or stride"
)

// dateTime writes a date, dateTime, instant or time in its precision and
// zone, as jsonformat does: the instant value_us, seen in the zone
// (jsonpbhelper.GetTimeFromUsec), formatted with the precision's layout.
func (e *encoder) dateTime(f *fieldPlan, p *msgPlan, m reflect.Value) error {
	us := m.Field(p.valueIdx).Int()
	prec := m.Field(p.precIdx).Int()
	tz := utc
	if p.prim != primTime {
		tz = m.Field(p.tzIdx).String()
	}
	var layout string
	switch p.prim {
	case primDate:
		layout = dayLayout(p, prec)
	case primDateTime:
		if layout = dayLayout(p, prec); layout == "" {
			layout = secondLayout(p, prec, tz)
		}
	case primInstant:
		layout = secondLayout(p, prec, tz)
	case primTime:
		switch prec {
		case p.prec[precSecond]:
			layout = layoutTimeSecond
		case p.prec[precMilli]:
			layout = layoutTimeMilli
		case p.prec[precMicro]:
			layout = layoutTimeMicro
		}
	}
	loc, err := location(tz)
	if err != nil {
		return fail(f, errBadTimezone)
	}
	if layout == "" {
		return fail(f, errNoPrecision)
	}
	t := time.Unix(us/1e6, (us%1e6)*1000).In(loc)
	e.buf = append(e.buf, '"')
	e.buf = t.AppendFormat(e.buf, layout)
	e.buf = append(e.buf, '"')
	return nil
}

func dayLayout(p *msgPlan, prec int64) string {
	switch prec {
	case p.prec[precDay]:
		return layoutDay
	case p.prec[precMonth]:
		return layoutMonth
	case p.prec[precYear]:
		return layoutYear
	}
	return ""
}

func secondLayout(p *msgPlan, prec int64, tz string) string {
	z := tz == utc
	switch prec {
	case p.prec[precSecond]:
		if z {
			return layoutSecondsUTC
		}
		return layoutSeconds
	case p.prec[precMilli]:
		if z {
			return layoutMillisUTC
		}
		return layoutMillis
	case p.prec[precMicro]:
		if z {
			return layoutMicrosUTC
		}
		return layoutMicros
	}
	return ""
}

// locations caches jsonpbhelper.GetLocation: time.LoadLocation reads the
// zone database on every call.
var locations sync.Map // string -> *time.Location or error

func location(tz string) (*time.Location, error) {
	if tz == utc {
		return time.UTC, nil
	}
	if v, ok := locations.Load(tz); ok {
		if l, ok := v.(*time.Location); ok {
			return l, nil
		}
		return nil, v.(error)
	}
	l, err := loadLocation(tz)
	if err != nil {
		locations.Store(tz, err)
		return nil, err
	}
	locations.Store(tz, l)
	return l, nil
}

// loadLocation is jsonpbhelper.GetLocation: an IANA name, else a UTC
// offset read as jsonpbhelper reads it (sign, then hours:minutes as
// strconv.Atoi reads them).
func loadLocation(tz string) (*time.Location, error) {
	if l, err := time.LoadLocation(tz); err == nil {
		return l, nil
	}
	if tz == "" || (tz[0] != '+' && tz[0] != '-') {
		return nil, errors.New(errBadTimezone)
	}
	arr := strings.Split(tz[1:], ":")
	if len(arr) != 2 {
		return nil, errors.New(errBadTimezone)
	}
	hour, err := strconv.Atoi(arr[0])
	if err != nil {
		return nil, errors.New(errBadTimezone)
	}
	minute, err := strconv.Atoi(arr[1])
	if err != nil {
		return nil, errors.New(errBadTimezone)
	}
	off := hour*3600 + minute*60
	if tz[0] == '-' {
		off = -hour*3600 - minute*60
	}
	return time.FixedZone(tz, off), nil
}

// base64 writes a base64Binary, spaced by its separatorStride extension
// when it has one (and no primitiveHasNoValue, which the caller checked).
func (e *encoder) base64(f *fieldPlan, p *msgPlan, m reflect.Value) error {
	enc := base64.StdEncoding.EncodeToString(m.Field(p.valueIdx).Bytes())
	var strideExt reflect.Value
	found := false
	if p.extIdx >= 0 {
		l := m.Field(p.extIdx)
		for i := 0; i < l.Len() && !found; i++ {
			if x := elem(p.ext, l.Index(i)); extURL(p.ext, x) == strideURL {
				strideExt, found = x, true
			}
		}
	}
	if !found {
		e.buf = appendString(e.buf, enc)
		return nil
	}
	sep, stride, err := separatorStride(p.ext, strideExt)
	if err != nil || stride <= 0 {
		return fail(f, errStrideNotWhole)
	}
	var out []byte
	pos := 0
	for ; (pos+1)*stride < len(enc); pos++ {
		out = append(out, enc[pos*stride:(pos+1)*stride]...)
		out = append(out, sep...)
	}
	out = append(out, enc[pos*stride:]...)
	e.buf = appendString(e.buf, string(out))
	return nil
}

// separatorStride reads the separatorStride extension's sub-extensions as
// jsonformat does: a "separator" must hold a string, a "stride" a
// positiveInt.
func separatorStride(xp *msgPlan, x reflect.Value) (string, int, error) {
	var ef, vf *fieldPlan
	for _, f := range xp.fields {
		switch f.fd.Name() {
		case "extension":
			ef = f
		case "value":
			vf = f
		}
	}
	if ef == nil || vf == nil || vf.choice == nil {
		return "", 0, errors.New(errStrideNotWhole)
	}
	l := x.Field(ef.idx)
	sep, stride := "", 0
	for i := 0; i < l.Len(); i++ {
		sub := elem(xp, l.Index(i))
		url := extURL(xp, sub)
		if url != "separator" && url != "stride" {
			continue
		}
		want := "string_value"
		if url == "stride" {
			want = "positive_int"
		}
		cv := sub.Field(vf.idx)
		if cv.IsNil() {
			return "", 0, errors.New(errStrideNotWhole)
		}
		mf, mv, ok := member(vf.choice, cv.Elem())
		if !ok || mf == nil || string(mf.fd.Name()) != want || mv.IsNil() {
			return "", 0, errors.New(errStrideNotWhole)
		}
		pv := mv.Elem().Field(mf.msg.valueIdx)
		if url == "separator" {
			sep = pv.String()
		} else {
			stride = int(pv.Uint())
		}
	}
	return sep, stride, nil
}
