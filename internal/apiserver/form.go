package apiserver

import (
	"fmt"
	"net/url"
)

// parseForm decodes a form-encoded Query request body.
func parseForm(body []byte) (map[string][]string, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("parse form body: %w", err)
	}
	return v, nil
}
