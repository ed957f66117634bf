package logsapi

import (
	"strings"
	"testing"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/awserr"
)

// TestErrors sends bad requests through the Ops table (decoding and the
// required-member check included) and checks CloudWatch's exception type
// and message for each.
func TestErrors(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: "s"})
	must(t, err)
	const (
		invalid  = logs.ErrInvalidParameter
		notFound = logs.ErrResourceNotFound
		exists   = logs.ErrResourceAlreadyExists
	)
	long := strings.Repeat("a", 513)
	for _, tc := range []struct {
		op, body      string
		code, message string
	}{
		// CreateLogGroup
		{"CreateLogGroup", `{}`, invalid, "logGroupName: required member is missing"},
		{"CreateLogGroup", `{"logGroupName":"a b"}`, invalid, `logGroupName: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`},
		{"CreateLogGroup", `{"logGroupName":"` + long + `"}`, invalid, "logGroupName: Member must have length less than or equal to 512"},
		{"CreateLogGroup", `{"logGroupName":"aws/x"}`, invalid, "logGroupName: Log group names cannot start with aws/"},
		{"CreateLogGroup", `{"logGroupName":"x","logGroupClass":"GOLD"}`, invalid, "logGroupClass: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]"},
		{"CreateLogGroup", `{"logGroupName":"x","kmsKeyId":"arn:aws:kms:us-east-1:1:key/x"}`, invalid, "kmsKeyId: berth does not encrypt log groups with KMS keys"},
		{"CreateLogGroup", `{"logGroupName":"x","deletionProtectionEnabled":true}`, invalid, "deletionProtectionEnabled: berth does not support deletion protection"},
		{"CreateLogGroup", `{"logGroupName":"x","tags":{}}`, invalid, "tags: Member must have between 1 and 50 entries"},
		{"CreateLogGroup", `{"logGroupName":"g"}`, exists, "The specified log group already exists"},
		{"CreateLogGroup", `{"logGroupName":5}`, awserr.CodeSerialization, ""},
		// DeleteLogGroup
		{"DeleteLogGroup", `{}`, invalid, "logGroupName: required member is missing"},
		{"DeleteLogGroup", `{"logGroupName":"nope"}`, notFound, "The specified log group does not exist."},
		// DescribeLogGroups
		{"DescribeLogGroups", `{"limit":51}`, invalid, "limit: Member must have value between 1 and 50"},
		{"DescribeLogGroups", `{"limit":-1}`, invalid, "limit: Member must have value between 1 and 50"},
		{"DescribeLogGroups", `{"logGroupNamePrefix":"a","logGroupNamePattern":"b"}`, invalid, "logGroupNamePrefix: LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters."},
		{"DescribeLogGroups", `{"logGroupNamePattern":"a b"}`, invalid, `logGroupNamePattern: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]*`},
		{"DescribeLogGroups", `{"logGroupClass":"GOLD"}`, invalid, "logGroupClass: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]"},
		{"DescribeLogGroups", `{"logGroupIdentifiers":[]}`, invalid, "logGroupIdentifiers: Member must have length between 1 and 50"},
		{"DescribeLogGroups", `{"logGroupIdentifiers":["g"],"logGroupNamePrefix":"g"}`, invalid, "logGroupIdentifiers: cannot be combined with logGroupNamePrefix or logGroupNamePattern"},
		{"DescribeLogGroups", `{"logGroupIdentifiers":["arn:aws:s3:::bucket"]}`, invalid, `logGroupIdentifiers: "arn:aws:s3:::bucket" is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)`},
		{"DescribeLogGroups", `{"nextToken":"!"}`, invalid, "nextToken: The specified nextToken is invalid."},
		// PutRetentionPolicy / DeleteRetentionPolicy
		{"PutRetentionPolicy", `{"retentionInDays":1}`, invalid, "logGroupName: required member is missing"},
		{"PutRetentionPolicy", `{"logGroupName":"g"}`, invalid, "retentionInDays: " + retentionConstraint},
		{"PutRetentionPolicy", `{"logGroupName":"g","retentionInDays":8}`, invalid, "retentionInDays: " + retentionConstraint},
		{"PutRetentionPolicy", `{"logGroupName":"nope","retentionInDays":7}`, notFound, "The specified log group does not exist."},
		{"DeleteRetentionPolicy", `{"logGroupName":"nope"}`, notFound, "The specified log group does not exist."},
		// CreateLogStream / DeleteLogStream
		{"CreateLogStream", `{"logGroupName":"g"}`, invalid, "logStreamName: required member is missing"},
		{"CreateLogStream", `{"logGroupName":"g","logStreamName":"a*b"}`, invalid, "logStreamName: Member must satisfy regular expression pattern: [^:*]*"},
		{"CreateLogStream", `{"logGroupName":"nope","logStreamName":"s"}`, notFound, "The specified log group does not exist."},
		{"CreateLogStream", `{"logGroupName":"g","logStreamName":"s"}`, exists, "The specified log stream already exists"},
		{"DeleteLogStream", `{"logGroupName":"g","logStreamName":"nope"}`, notFound, "The specified log stream does not exist."},
		// DescribeLogStreams
		{"DescribeLogStreams", `{}`, invalid, "logGroupName: Either logGroupName or logGroupIdentifier must be specified."},
		{"DescribeLogStreams", `{"logGroupName":"g","logGroupIdentifier":"g"}`, invalid, "LogGroup name and LogGroup ARN are mutually exclusive parameters."},
		{"DescribeLogStreams", `{"logGroupName":"nope"}`, notFound, "The specified log group does not exist."},
		{"DescribeLogStreams", `{"logGroupIdentifier":"arn:aws:logs:eu-west-1:123456789012:log-group:g"}`, notFound, "The specified log group does not exist."},
		{"DescribeLogStreams", `{"logGroupName":"g","orderBy":"Size"}`, invalid, "orderBy: Member must satisfy enum value set: [LogStreamName, LastEventTime]"},
		{"DescribeLogStreams", `{"logGroupName":"g","limit":100}`, invalid, "limit: Member must have value between 1 and 50"},
		{"DescribeLogStreams", `{"logGroupName":"g","logStreamNamePrefix":"a:"}`, invalid, "logStreamNamePrefix: Member must satisfy regular expression pattern: [^:*]*"},
		// PutLogEvents
		{"PutLogEvents", `{"logGroupName":"g","logStreamName":"s"}`, invalid, "logEvents: required member is missing"},
		{"PutLogEvents", `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1}]}`, invalid, "logEvents[0].message: required member is missing"},
		// GetLogEvents
		{"GetLogEvents", `{"logGroupName":"g"}`, invalid, "logStreamName: required member is missing"},
		{"GetLogEvents", `{"logStreamName":"s"}`, invalid, "logGroupName: Either logGroupName or logGroupIdentifier must be specified."},
		{"GetLogEvents", `{"logGroupName":"g","logStreamName":"nope"}`, notFound, "The specified log stream does not exist."},
		{"GetLogEvents", `{"logGroupName":"nope","logStreamName":"s"}`, notFound, "The specified log group does not exist."},
		{"GetLogEvents", `{"logGroupName":"g","logStreamName":"s","limit":10001}`, invalid, "limit: Member must have value between 1 and 10000"},
		{"GetLogEvents", `{"logGroupName":"g","logStreamName":"s","startTime":-5}`, invalid, "startTime: Member must have value greater than or equal to 0"},
		{"GetLogEvents", `{"logGroupName":"g","logStreamName":"s","endTime":-5}`, invalid, "endTime: Member must have value greater than or equal to 0"},
		{"GetLogEvents", `{"logGroupName":"g","logStreamName":"s","nextToken":"f/nothex"}`, invalid, "nextToken: The specified nextToken is invalid."},
		// FilterLogEvents
		{"FilterLogEvents", `{"logGroupName":"nope"}`, notFound, "The specified log group does not exist."},
		{"FilterLogEvents", `{"logGroupName":"g","logStreamNames":["s"],"logStreamNamePrefix":"s"}`, invalid, "logStreamNames: cannot be combined with logStreamNamePrefix"},
		{"FilterLogEvents", `{"logGroupName":"g","logStreamNames":[]}`, invalid, "logStreamNames: Member must have length between 1 and 100"},
		{"FilterLogEvents", `{"logGroupName":"g","logStreamNames":["ok","a:b"]}`, invalid, "logStreamNames[1]: Member must satisfy regular expression pattern: [^:*]*"},
		{"FilterLogEvents", `{"logGroupName":"g","filterPattern":"` + strings.Repeat("x", 1025) + `"}`, invalid, "filterPattern: Member must have length less than or equal to 1024"},
		{"FilterLogEvents", `{"logGroupName":"g","filterPattern":"{ $.level = \"error\" }"}`, invalid, "filterPattern: JSON filter patterns are not supported by berth"},
		{"FilterLogEvents", `{"logGroupName":"g","filterPattern":"\"open"}`, invalid, "filterPattern: unterminated quoted phrase"},
		{"FilterLogEvents", `{"logGroupName":"g","limit":0,"nextToken":"f/00"}`, invalid, "nextToken: The specified nextToken is invalid."},
		{"FilterLogEvents", `{"logGroupName":"g","startTime":-1}`, invalid, "startTime: Member must have value greater than or equal to 0"},
	} {
		t.Run(tc.op+" "+tc.body[:min(len(tc.body), 60)], func(t *testing.T) {
			_, err := call(t, s, tc.op, tc.body)
			wantErr(t, err, tc.code, tc.message)
		})
	}
}

// TestOpsCoverTheBrief guards the operation table.
func TestOpsCoverTheBrief(t *testing.T) {
	s, _, _ := newTestService(t)
	ops := s.Ops()
	for _, name := range []string{
		"CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "CreateLogStream", "DeleteLogStream",
		"DescribeLogStreams", "PutLogEvents", "GetLogEvents", "FilterLogEvents", "PutRetentionPolicy", "DeleteRetentionPolicy",
	} {
		if ops[name] == nil {
			t.Errorf("missing operation %s", name)
		}
	}
	model := map[string]bool{}
	for _, n := range logs.Operations() {
		model[n] = true
	}
	for name := range ops {
		if !model[name] {
			t.Errorf("operation %s is not in the CloudWatch Logs model", name)
		}
	}
}
