// Package awsshape holds what every AWS protocol edge does to the model's
// shapes the same way, whatever their wire form: today, finding a required
// member that is absent. Each protocol says how members and list elements
// are named on its wire (awsjson: "a.b[0].c"; awsquery: "A.B.member.1.C").
package awsshape

import "reflect"

// Naming tells MissingRequired how a protocol names things on the wire.
type Naming struct {
	// Member returns a struct field's wire name, or false for a field
	// that is not a model member.
	Member func(f reflect.StructField) (name string, ok bool)
	// Element returns the path of element i of the list at path.
	Element func(path string, i int) string
}

type requirer interface{ RequiredMembers() []string }

// MissingRequired walks v (a generated input shape) and returns the wire
// path of the first member the model marks required that is absent. A
// required member is matched by its wire name or its Go field name.
func MissingRequired(v any, n Naming) (path string, missing bool) {
	return missingRequired(reflect.ValueOf(v), "", n)
}

func missingRequired(v reflect.Value, path string, n Naming) (string, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		var req []string
		if r, ok := v.Interface().(requirer); ok {
			req = r.RequiredMembers()
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, ok := n.Member(f)
			if !ok {
				continue
			}
			fv := v.Field(i)
			p := name
			if path != "" {
				p = path + "." + name
			}
			for _, r := range req {
				if (r == name || r == f.Name) && absent(fv) {
					return p, true
				}
			}
			if p, ok := missingRequired(fv, p, n); ok {
				return p, true
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false
		}
		for i := 0; i < v.Len(); i++ {
			if p, ok := missingRequired(v.Index(i), n.Element(path, i), n); ok {
				return p, true
			}
		}
	}
	return "", false
}

// absent reports whether a member was not given: nil pointers, lists and
// maps, empty strings. Plain numbers and booleans always have a value.
func absent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}
