package awsquery

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/berth-io/berth/api/awstime"
)

// timeFormat is the ISO 8601 form the Query protocol's XML uses.
const timeFormat = "2006-01-02T15:04:05.000Z"

// MarshalResult encodes an operation's output as a complete Query response:
//
//	<ActionResponse xmlns="ns"><ActionResult>...</ActionResult>
//	<ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></ActionResponse>
//
// out is a (pointer to a) generated output struct; nil gives an empty result.
func MarshalResult(ns, action string, out any, requestID string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, "<%sResponse xmlns=\"", action)
	escape(&b, ns)
	fmt.Fprintf(&b, "\"><%sResult>", action)
	if out != nil {
		v := reflect.ValueOf(out)
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if err := encodeStruct(&b, v); err != nil {
				return nil, err
			}
		} else if v.Kind() != reflect.Pointer {
			return nil, fmt.Errorf("awsquery: result of %s is %T, not a struct", action, out)
		}
	}
	fmt.Fprintf(&b, "</%sResult><ResponseMetadata><RequestId>", action)
	escape(&b, requestID)
	fmt.Fprintf(&b, "</RequestId></ResponseMetadata></%sResponse>", action)
	return b.Bytes(), nil
}

func escape(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

func encodeStruct(b *bytes.Buffer, v reflect.Value) error {
	for _, fd := range fieldsOf(v.Type()) {
		if err := encodeMember(b, fd, v.Field(fd.index)); err != nil {
			return err
		}
	}
	return nil
}

// absent reports whether a member is left out of the XML.
func absent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}

func encodeMember(b *bytes.Buffer, fd field, v reflect.Value) error {
	if absent(v) {
		return nil
	}
	switch {
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		if !fd.flat {
			fmt.Fprintf(b, "<%s>", fd.name)
		}
		elem := fd.member
		if fd.flat {
			elem = fd.name
		}
		for i := 0; i < v.Len(); i++ {
			if err := encodeElement(b, elem, v.Index(i)); err != nil {
				return err
			}
		}
		if !fd.flat {
			fmt.Fprintf(b, "</%s>", fd.name)
		}
		return nil
	case v.Kind() == reflect.Map:
		if !fd.flat {
			fmt.Fprintf(b, "<%s>", fd.name)
		}
		entry := "entry"
		if fd.flat {
			entry = fd.name
		}
		keys := v.MapKeys()
		sortValues(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "<%s>", entry)
			if err := encodeElement(b, fd.key, k); err != nil {
				return err
			}
			if err := encodeElement(b, fd.value, v.MapIndex(k)); err != nil {
				return err
			}
			fmt.Fprintf(b, "</%s>", entry)
		}
		if !fd.flat {
			fmt.Fprintf(b, "</%s>", fd.name)
		}
		return nil
	}
	return encodeElement(b, fd.name, v)
}

// encodeElement writes <name>v</name> for a scalar, structure or timestamp.
func encodeElement(b *bytes.Buffer, name string, v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	fmt.Fprintf(b, "<%s>", name)
	switch {
	case v.Type() == awsTimeType:
		escape(b, v.Interface().(awstime.Time).UTC().Format(timeFormat))
	case v.Type() == reflect.TypeFor[time.Time]():
		escape(b, v.Interface().(time.Time).UTC().Format(timeFormat))
	case v.Kind() == reflect.Struct:
		if err := encodeStruct(b, v); err != nil {
			return err
		}
	case v.Kind() == reflect.String:
		escape(b, v.String())
	case v.Kind() == reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case v.CanInt():
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case v.CanFloat():
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits()))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		b.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
	default:
		return fmt.Errorf("awsquery: element %s has unsupported Go type %s", name, v.Type())
	}
	fmt.Fprintf(b, "</%s>", name)
	return nil
}

func sortValues(vs []reflect.Value) {
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && vs[j].String() < vs[j-1].String(); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}
