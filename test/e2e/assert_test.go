package e2e

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ok fails the test now if err is not nil: the steps after it depend on it.
func ok(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("unexpected error: %v", err)
	}
}

// wantCode checks that err is an API error with the given code (the ECS
// exception name) and that its response carried a request ID.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	wantOneOf(tb, err, code)
}

// wantOneOf is wantCode for the cases where ECS's own choice of exception
// is not documented; any of codes passes.
func wantOneOf(tb testing.TB, err error, codes ...string) {
	tb.Helper()
	if err == nil {
		tb.Errorf("got success, want %s", strings.Join(codes, " or "))
		return
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		tb.Errorf("got %v, want API error %s", err, strings.Join(codes, " or "))
		return
	}
	if !slices.Contains(codes, apiErr.ErrorCode()) {
		tb.Errorf("got %s (%q), want %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), strings.Join(codes, " or "))
		return
	}
	if apiErr.ErrorMessage() == "" {
		tb.Errorf("%s has an empty message", apiErr.ErrorCode())
	}
	if errRequestID(err) == "" {
		tb.Errorf("%s response has no x-amzn-RequestId", apiErr.ErrorCode())
	}
}

// wantTyped checks that err unwraps to the SDK's typed exception E (the SDK
// maps __type to it), which is what SDK users match on.
func wantTyped[E error](tb testing.TB, err error) {
	tb.Helper()
	var e E
	if !errors.As(err, &e) {
		tb.Errorf("got %v (%T), want %T", err, err, e)
	}
}

// ARN patterns (account and region are the test server's).
const arnPrefix = "arn:aws:ecs:" + testRegion + ":" + testAccount + ":"

var (
	taskARNRE     = regexp.MustCompile(`^` + regexp.QuoteMeta(arnPrefix) + `task/([A-Za-z0-9_-]+)/([0-9a-f]{32})$`)
	instanceARNRE = regexp.MustCompile(`^` + regexp.QuoteMeta(arnPrefix) + `container-instance/([A-Za-z0-9_-]+)/([0-9a-f]{32})$`)
)

func clusterARN(name string) string          { return arnPrefix + "cluster/" + name }
func serviceARN(cluster, name string) string { return arnPrefix + "service/" + cluster + "/" + name }
func taskDefARN(familyRev string) string     { return arnPrefix + "task-definition/" + familyRev }

// ignoreUnexported ignores the SDK types' unexported marker fields.
var ignoreUnexported = cmp.FilterPath(func(p cmp.Path) bool {
	sf, ok := p.Index(-1).(cmp.StructField)
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(sf.Name())
	return !unicode.IsUpper(r)
}, cmp.Ignore())

// sdkOpts compares SDK values: unexported markers ignored, nil and empty
// slices and maps equal (ECS sends [] for absent lists).
var sdkOpts = cmp.Options{ignoreUnexported, cmpopts.EquateEmpty()}

// tagMap turns tags into a map for comparison.
func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func tags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// sortedCopy returns s sorted, for order-insensitive comparisons.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// resourceValue returns the integer value of the named resource.
func resourceValue(rs []types.Resource, name string) (int32, bool) {
	for _, r := range rs {
		if aws.ToString(r.Name) == name {
			return r.IntegerValue, true
		}
	}
	return 0, false
}

// failureReasons maps each failure's ARN to its reason.
func failureReasons(fs []types.Failure) map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[aws.ToString(f.Arn)] = aws.ToString(f.Reason)
	}
	return m
}
