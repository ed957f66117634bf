package awsquery

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-io/berth/api/awstime"
	"github.com/berth-io/berth/internal/awserr"
)

// Error codes this package returns, as ELBv2 spells them.
const (
	// CodeValidation is a malformed or missing parameter.
	CodeValidation = "ValidationError"
	// CodeInvalidAction is an Action the service does not know.
	CodeInvalidAction = "InvalidAction"
	// CodeMissingAction is a request with no Action.
	CodeMissingAction = "MissingAction"
)

var awsTimeType = reflect.TypeFor[awstime.Time]()

// field is one member of a generated struct, as its query tag describes it.
type field struct {
	index  int
	name   string // wire name
	flat   bool
	member string // list element name
	key    string // map key element name
	value  string // map value element name
}

func parseTag(f reflect.StructField) (field, bool) {
	tag, ok := f.Tag.Lookup("query")
	if !ok || tag == "-" || !f.IsExported() {
		return field{}, false
	}
	parts := strings.Split(tag, ",")
	fd := field{name: parts[0], member: "member", key: "key", value: "value"}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "flat":
			fd.flat = true
		case "member":
			fd.member = v
		case "key":
			fd.key = v
		case "value":
			fd.value = v
		}
	}
	if fd.name == "" {
		fd.name = f.Name
	}
	return fd, true
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		if fd, ok := parseTag(t.Field(i)); ok {
			fd.index = i
			fs = append(fs, fd)
		}
	}
	return fs
}

// form is a parsed request with its keys sorted, so the members under a
// prefix can be found without scanning every key.
type form struct {
	values map[string][]string
	keys   []string
}

func (f *form) get(key string) (string, bool) {
	v, ok := f.values[key]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return v[0], true
}

// under returns the keys that start with prefix.
func (f *form) under(prefix string) []string {
	i := sort.SearchStrings(f.keys, prefix)
	j := i
	for j < len(f.keys) && strings.HasPrefix(f.keys[j], prefix) {
		j++
	}
	return f.keys[i:j]
}

func (f *form) has(prefix string) bool { return len(f.under(prefix)) > 0 }

// Decode fills v, a pointer to a generated input struct, from a parsed
// form. Keys the struct does not name (Action, Version, members newer
// clients send) are ignored. A value of the wrong kind is a ValidationError
// naming the member by its wire path.
func Decode(values map[string][]string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsquery: Decode needs a non-nil pointer to a struct, got %T", v)
	}
	f := &form{values: values, keys: make([]string, 0, len(values))}
	for k := range values {
		f.keys = append(f.keys, k)
	}
	sort.Strings(f.keys)
	return decodeStruct(f, "", rv.Elem())
}

func decodeStruct(f *form, prefix string, v reflect.Value) error {
	for _, fd := range fieldsOf(v.Type()) {
		if err := decodeValue(f, prefix+fd.name, fd, v.Field(fd.index)); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(f *form, key string, fd field, v reflect.Value) error {
	t := v.Type()
	switch {
	case t == awsTimeType || (t.Kind() == reflect.Pointer && t.Elem() == awsTimeType):
		s, ok := f.get(key)
		if !ok {
			return nil
		}
		tm, err := parseTime(s)
		if err != nil {
			return invalid(key, s, "a timestamp (ISO 8601)")
		}
		if t.Kind() == reflect.Pointer {
			v.Set(reflect.ValueOf(&awstime.Time{Time: tm}))
		} else {
			v.Set(reflect.ValueOf(awstime.Time{Time: tm}))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct {
			if !f.has(key + ".") {
				return nil
			}
		} else if _, ok := f.get(key); !ok {
			return nil
		}
		p := reflect.New(t.Elem())
		if err := decodeValue(f, key, fd, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return decodeStruct(f, key+".", v)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			s, ok := f.get(key)
			if !ok {
				return nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return invalid(key, s, "base64 data")
			}
			v.SetBytes(b)
			return nil
		}
		return decodeList(f, key, fd, v)
	case reflect.Map:
		return decodeMap(f, key, fd, v)
	}
	s, ok := f.get(key)
	if !ok {
		return nil
	}
	return setScalar(key, s, v)
}

func setScalar(key, s string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			return invalid(key, s, "a boolean (true or false)")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return invalid(key, s, "an integer")
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return invalid(key, s, "a number")
		}
		v.SetFloat(n)
	default:
		return fmt.Errorf("awsquery: member %s has unsupported Go type %s", key, v.Type())
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e12 && f < 1e12 {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

func invalid(key, value, want string) error {
	if len(value) > 64 {
		value = value[:61] + "..."
	}
	return awserr.New(CodeValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be %s", value, key, want)
}

// indexes returns the distinct positive indexes N of keys "<prefix>N" or
// "<prefix>N.<rest>", in order. Indexes need not be contiguous: the
// elements are taken in index order.
func indexes(f *form, prefix string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, k := range f.under(prefix) {
		rest := k[len(prefix):]
		n, _, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 {
			return nil, awserr.New(CodeValidation, "1 validation error detected: '%s' is not a valid list index (they start at 1)", prefix+n)
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out, nil
}

func decodeList(f *form, key string, fd field, v reflect.Value) error {
	prefix := key + "." + fd.member + "."
	if fd.flat {
		prefix = key + "."
	}
	idx, err := indexes(f, prefix)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		// An empty list is sent as the bare key with an empty value.
		if s, ok := f.get(key); ok && s == "" {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		return nil
	}
	s := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	for j, i := range idx {
		if err := decodeValue(f, prefix+strconv.Itoa(i), fd, s.Index(j)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func decodeMap(f *form, key string, fd field, v reflect.Value) error {
	if v.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("awsquery: member %s: map keys must be strings", key)
	}
	prefix := key + ".entry."
	if fd.flat {
		prefix = key + "."
	}
	idx, err := indexes(f, prefix)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		return nil
	}
	m := reflect.MakeMapWithSize(v.Type(), len(idx))
	for _, i := range idx {
		entry := prefix + strconv.Itoa(i) + "."
		k, ok := f.get(entry + fd.key)
		if !ok {
			return awserr.New(CodeValidation, "1 validation error detected: map entry '%s' has no %s", entry+fd.key, fd.key)
		}
		val := reflect.New(v.Type().Elem()).Elem()
		if err := decodeValue(f, entry+fd.value, field{member: "member", key: "key", value: "value"}, val); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), val)
	}
	v.Set(m)
	return nil
}
