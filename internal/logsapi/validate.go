package logsapi

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/logstore"
)

// Constructors for the CloudWatch Logs exceptions, so every operation
// words them alike. Validation messages start with the member path.

func errInvalidParameter(format string, args ...any) error {
	return awserr.New(logs.ErrInvalidParameter, format, args...)
}

func errGroupNotFound() error {
	return awserr.New(logs.ErrResourceNotFound, "The specified log group does not exist.")
}

func errStreamNotFound() error {
	return awserr.New(logs.ErrResourceNotFound, "The specified log stream does not exist.")
}

// storeErr maps the log store's errors to CloudWatch's exceptions. Others
// pass through and become a ServerException at the edge, which logs them.
func storeErr(err error) error {
	var pe *logstore.PatternError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, logstore.ErrGroupNotFound):
		return errGroupNotFound()
	case errors.Is(err, logstore.ErrStreamNotFound):
		return errStreamNotFound()
	case errors.Is(err, logstore.ErrGroupExists):
		return awserr.New(logs.ErrResourceAlreadyExists, "The specified log group already exists")
	case errors.Is(err, logstore.ErrStreamExists):
		return awserr.New(logs.ErrResourceAlreadyExists, "The specified log stream already exists")
	case errors.Is(err, logstore.ErrInvalidToken):
		return errInvalidParameter("nextToken: The specified nextToken is invalid.")
	case errors.Is(err, logstore.ErrInvalidRetention):
		return errInvalidParameter("retentionInDays: %s", retentionConstraint)
	case errors.Is(err, logstore.ErrInvalidName):
		return errInvalidParameter("%s", err.Error())
	case errors.As(err, &pe):
		return errInvalidParameter("filterPattern: %s", pe.Reason)
	case errors.Is(err, logstore.ErrClosed):
		return awserr.WithStatus(503, logs.ErrServiceUnavailable, "The log store is shutting down; retry.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return awserr.WithStatus(503, logs.ErrServiceUnavailable, "The request was cancelled.")
	}
	return err
}

const retentionConstraint = "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"

// Name rules from the model.
var (
	groupNameRE        = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]+$`)
	groupNamePatternRE = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]*$`)
)

const maxNameLen = 512

// validGroupName checks a log group name given in member.
func validGroupName(member, name string) error {
	switch {
	case name == "":
		return errInvalidParameter("%s: Member must have length greater than or equal to 1", member)
	case len(name) > maxNameLen:
		return errInvalidParameter("%s: Member must have length less than or equal to %d", member, maxNameLen)
	case !groupNameRE.MatchString(name):
		return errInvalidParameter(`%s: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`, member)
	}
	return nil
}

// validStreamName checks a log stream name (or prefix) given in member.
func validStreamName(member, name string) error {
	switch {
	case name == "":
		return errInvalidParameter("%s: Member must have length greater than or equal to 1", member)
	case len(name) > maxNameLen:
		return errInvalidParameter("%s: Member must have length less than or equal to %d", member, maxNameLen)
	case strings.ContainsAny(name, ":*"):
		return errInvalidParameter("%s: Member must satisfy regular expression pattern: [^:*]*", member)
	}
	return nil
}

// groupName resolves the logGroupName / logGroupIdentifier pair of the
// read operations: exactly one must be given; the identifier is a name or
// a log group ARN (with or without the trailing ":*").
func (s *Service) groupName(name, identifier string) (string, error) {
	switch {
	case name != "" && identifier != "":
		return "", errInvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != "":
		return name, validGroupName("logGroupName", name)
	case identifier == "":
		return "", errInvalidParameter("logGroupName: Either logGroupName or logGroupIdentifier must be specified.")
	}
	name, here, err := s.identifierName("logGroupIdentifier", identifier)
	if err == nil && !here {
		err = errGroupNotFound()
	}
	return name, err
}

// identifierName returns the group name a log group name-or-ARN names;
// here is false for an ARN of another region or account.
func (s *Service) identifierName(member, id string) (name string, here bool, err error) {
	if !strings.HasPrefix(id, "arn:") {
		return id, true, validGroupName(member, id)
	}
	// arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]
	parts := strings.SplitN(id, ":", 7)
	if len(parts) != 7 || parts[2] != "logs" || parts[5] != "log-group" {
		return "", false, errInvalidParameter("%s: %q is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)", member, id)
	}
	name = strings.TrimSuffix(parts[6], ":*")
	if err := validGroupName(member, name); err != nil {
		return "", false, err
	}
	return name, parts[3] == s.region && parts[4] == s.account, nil
}

// limit returns a request's limit: def when absent (0), else it must be
// 1..maxv.
func limit(member string, v int32, maxv int) (int, error) {
	if v == 0 {
		return maxv, nil
	}
	if v < 1 || int(v) > maxv {
		return 0, errInvalidParameter("%s: Member must have value between 1 and %d", member, maxv)
	}
	return int(v), nil
}

// validTime checks a timestamp member (model minimum 0).
func validTime(member string, v int64) error {
	if v < 0 {
		return errInvalidParameter("%s: Member must have value greater than or equal to 0", member)
	}
	return nil
}

// Pagination of the Describe operations: nextToken is the opaque (base64)
// sort key of the last item returned; the next page starts after it, so
// tokens survive writes in between.

// page returns up to n items after token and the token for the next page
// ("" when none). items are sorted by key, ascending or descending.
func page[T any](items []T, key func(T) string, token string, n int, descending bool) ([]T, string, error) {
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			return nil, "", errInvalidParameter("nextToken: The specified nextToken is invalid.")
		}
		after := string(b)
		start = sort.Search(len(items), func(i int) bool {
			if descending {
				return key(items[i]) < after
			}
			return key(items[i]) > after
		})
	}
	end := start + n
	if end >= len(items) {
		return items[start:], "", nil
	}
	out := items[start:end]
	return out, base64.RawURLEncoding.EncodeToString([]byte(key(out[len(out)-1]))), nil
}
