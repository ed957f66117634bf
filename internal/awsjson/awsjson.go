// Package awsjson implements the AWS JSON 1.1 protocol edge for one service:
// operations are dispatched on X-Amz-Target ("<TargetPrefix>.<Operation>"),
// requests are JSON bodies decoded into the model's input shapes, responses
// are JSON, and errors are {"__type": "...", "message": "..."}.
package awsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsshape"
)

// ContentType is the AWS JSON 1.1 media type.
const ContentType = "application/x-amz-json-1.1"

// Op is one operation: decode the body, run, return the output shape.
type Op func(ctx context.Context, body []byte) (any, error)

// Handle adapts a typed operation to an Op: it decodes the body into In,
// checks the members the model marks required (recursively), and calls f.
func Handle[In, Out any](f func(context.Context, *In) (*Out, error)) Op {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := Decode(body, in); err != nil {
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

// Decode unmarshals an AWS JSON body. An empty body is an empty object.
// Unknown members are ignored (newer clients may send them); a member of
// the wrong type is a SerializationException naming the member.
func Decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "request body"
			}
			return awserr.New(awserr.CodeSerialization, "%s: expected %s, got JSON %s", field, friendlyType(te.Type), te.Value)
		case errors.As(err, &se):
			return awserr.New(awserr.CodeSerialization, "malformed JSON at byte %d: %v", se.Offset, se.Error())
		default:
			return awserr.New(awserr.CodeSerialization, "malformed request body: %v", err)
		}
	}
	if dec.More() {
		return awserr.New(awserr.CodeSerialization, "malformed request body: trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return awserr.New(awserr.CodeSerialization, "malformed request body: trailing data after the JSON object")
	}
	return nil
}

func friendlyType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a map"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsonNaming names members by their JSON names and list elements a[i].
func jsonNaming() awsshape.Naming {
	return awsshape.Naming{
		Member: func(f reflect.StructField) (string, bool) {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return name, name != "" && name != "-"
		},
		Element: func(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) },
	}
}

// CheckRequired walks v and returns an InvalidParameterException naming the
// first required member (by its wire path) that is absent.
func CheckRequired(v any) error {
	if p, missing := awsshape.MissingRequired(v, jsonNaming()); missing {
		return awserr.New("InvalidParameterException", "%s: required member is missing", p)
	}
	return nil
}

// Service is one AWS JSON service on the shared endpoint.
type Service struct {
	TargetPrefix string        // e.g. "AmazonEC2ContainerServiceV20141113"
	Ops          map[string]Op // operation name -> handler
}

// Operation returns the operation named by an X-Amz-Target header, if the
// header belongs to this service.
func (s *Service) Operation(target string) (name string, ok bool) {
	prefix, op, found := strings.Cut(target, ".")
	if !found || prefix != s.TargetPrefix {
		return "", false
	}
	return op, true
}

// Serve runs the named operation on body and writes the response.
func (s *Service) Serve(ctx context.Context, w http.ResponseWriter, op string, body []byte) (code string) {
	h, ok := s.Ops[op]
	if !ok {
		err := awserr.New(awserr.CodeUnknownOperation, "operation %s is not supported by %s", op, s.TargetPrefix)
		WriteError(w, err)
		return err.Code
	}
	out, err := h(ctx, body)
	if err != nil {
		e := awserr.As(err)
		WriteError(w, e)
		return e.Code
	}
	WriteJSON(w, http.StatusOK, out)
	return ""
}

// WriteJSON writes v as an AWS JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, &awserr.Error{Code: awserr.CodeServer, Message: "encode response: " + err.Error(), Server: true})
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes e in the AWS JSON error form. The x-amzn-ErrorType header
// carries the code too, as AWS services send it.
func WriteError(w http.ResponseWriter, e *awserr.Error) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("x-amzn-ErrorType", e.Code)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(b)
}
