// Package awsquery implements the AWS Query protocol edge for one service
// (ELBv2 today): the request is a form (Action=<Op>&Version=<v>&...) that
// apiserver has already parsed, decoded into the model's input shapes by
// their `query` struct tags; responses are XML
//
//	<OpResponse xmlns="..."><OpResult>...</OpResult>
//	  <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>
//
// and errors are
//
//	<ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>...</Code>
//	  <Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>
//
// with the error's HTTP status. It mirrors internal/awsjson.
package awsquery

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"

	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsshape"
)

// ContentType is the media type of Query responses.
const ContentType = "text/xml"

// Op is one operation: decode the form, run, return the output shape.
type Op func(ctx context.Context, form map[string][]string) (any, error)

// Handle adapts a typed operation to an Op: it decodes the form into In,
// checks the members the model marks required (recursively), and calls f.
func Handle[In, Out any](f func(context.Context, *In) (*Out, error)) Op {
	return func(ctx context.Context, form map[string][]string) (any, error) {
		in := new(In)
		if err := Decode(form, in); err != nil {
			return nil, err
		}
		if err := CheckRequired(in); err != nil {
			return nil, err
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// Service is one AWS Query service on the shared endpoint. It implements
// apiserver.QueryService.
type Service struct {
	APIVersion string        // e.g. "2015-12-01"; requests' Version must match
	Namespace  string        // XML namespace of responses, from the model
	Ops        map[string]Op // Action -> handler
}

// Version returns the API version the service answers to.
func (s *Service) Version() string { return s.APIVersion }

// ServeQuery runs the form's action and writes the XML response or error.
func (s *Service) ServeQuery(ctx context.Context, w http.ResponseWriter, action string, form map[string][]string, requestID string) {
	if action == "" {
		s.WriteError(w, awserr.New(CodeMissingAction, "the request names no Action"), requestID)
		return
	}
	h, ok := s.Ops[action]
	if !ok {
		s.WriteError(w, awserr.New(CodeInvalidAction, "the action %s is not valid for this web service", action), requestID)
		return
	}
	out, err := h(ctx, form)
	if err != nil {
		s.WriteError(w, awserr.As(err), requestID)
		return
	}
	if v := reflect.ValueOf(out); out != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		out = nil
	}
	b, err := MarshalResult(s.Namespace, action, out, requestID)
	if err != nil {
		s.WriteError(w, &awserr.Error{Code: awserr.CodeServer, Message: "encode response: " + err.Error(), Server: true}, requestID)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// WriteError writes e as a Query ErrorResponse with e's HTTP status.
func (s *Service) WriteError(w http.ResponseWriter, e *awserr.Error, requestID string) {
	WriteError(w, s.Namespace, e, requestID)
}

// WriteError writes e as a Query ErrorResponse in namespace ns.
func WriteError(w http.ResponseWriter, ns string, e *awserr.Error, requestID string) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(MarshalError(ns, e, requestID))
}

// MarshalError encodes e as a Query ErrorResponse document.
func MarshalError(ns string, e *awserr.Error, requestID string) []byte {
	typ := "Sender"
	if e.Server {
		typ = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<ErrorResponse xmlns="`)
	escape(&b, ns)
	fmt.Fprintf(&b, `"><Error><Type>%s</Type><Code>`, typ)
	escape(&b, e.Code)
	b.WriteString("</Code><Message>")
	escape(&b, e.Message)
	b.WriteString("</Message></Error><RequestId>")
	escape(&b, requestID)
	b.WriteString("</RequestId></ErrorResponse>")
	return b.Bytes()
}

// queryNaming names members by their form keys and list elements
// a.member.N (flattened lists use their own naming only when decoding; the
// ELBv2 model has none).
func queryNaming() awsshape.Naming {
	return awsshape.Naming{
		Member: func(f reflect.StructField) (string, bool) {
			fd, ok := parseTag(f)
			return fd.name, ok
		},
		Element: func(path string, i int) string { return fmt.Sprintf("%s.member.%d", path, i+1) },
	}
}

// CheckRequired walks v and returns a ValidationError naming the first
// required member (by its wire path) that is absent.
func CheckRequired(v any) error {
	if p, missing := awsshape.MissingRequired(v, queryNaming()); missing {
		return awserr.New(CodeValidation, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", p)
	}
	return nil
}
