// Package logsapi implements the part of the Amazon CloudWatch Logs API that
// berth serves over internal/logstore: log groups and streams, writing
// (PutLogEvents), reading (GetLogEvents, FilterLogEvents) and retention, with
// CloudWatch's validation, pagination tokens and exception types, so
// `aws logs get-log-events`, `aws logs tail [--follow]` and the SDKs work
// against berth unchanged. Like internal/ecsapi it knows nothing of HTTP:
// the protocol edge decodes requests into api/logs shapes and calls Ops.
//
// Where berth differs from CloudWatch:
//
//   - Groups without a retention policy are kept for the store's default
//     retention (7 days unless configured), not forever; DescribeLogGroups
//     still reports no policy for them.
//   - Filter patterns support terms, "quoted phrases", -exclusions and
//     ?alternatives (see logstore.FilterQuery.Pattern); JSON, space-delimited
//     and regular-expression patterns are refused with
//     InvalidParameterException.
//   - KMS keys and deletion protection are refused at CreateLogGroup rather
//     than silently ignored; tags are stored but not yet readable.
//   - Messages longer than the store's event size (256 KiB) come back split
//     into several events with the same timestamp.
//   - Log streams report their real storedBytes (CloudWatch reports 0).
//   - No sequence tokens: PutLogEvents returns none and ignores the one it is
//     given, as CloudWatch does today.
package logsapi

import (
	"log/slog"
	"time"

	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/logstore"
)

// Config configures the CloudWatch Logs API.
type Config struct {
	Store *logstore.Store
	// Region and AccountID go into every ARN.
	Region    string
	AccountID string
	// Now is the clock PutLogEvents judges timestamps by; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Service implements the CloudWatch Logs operations.
type Service struct {
	st      *logstore.Store
	region  string
	account string
	now     func() time.Time
	log     *slog.Logger
}

// New returns the CloudWatch Logs API over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, region: cfg.Region, account: cfg.AccountID, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "logsapi")
	return s
}

// Ops returns the operation table for the JSON protocol edge.
func (s *Service) Ops() map[string]awsjson.Op {
	return map[string]awsjson.Op{
		"CreateLogGroup":        awsjson.Handle(s.CreateLogGroup),
		"DeleteLogGroup":        awsjson.Handle(s.DeleteLogGroup),
		"DescribeLogGroups":     awsjson.Handle(s.DescribeLogGroups),
		"PutRetentionPolicy":    awsjson.Handle(s.PutRetentionPolicy),
		"DeleteRetentionPolicy": awsjson.Handle(s.DeleteRetentionPolicy),
		"CreateLogStream":       awsjson.Handle(s.CreateLogStream),
		"DeleteLogStream":       awsjson.Handle(s.DeleteLogStream),
		"DescribeLogStreams":    awsjson.Handle(s.DescribeLogStreams),
		"PutLogEvents":          awsjson.Handle(s.PutLogEvents),
		"GetLogEvents":          awsjson.Handle(s.GetLogEvents),
		"FilterLogEvents":       awsjson.Handle(s.FilterLogEvents),
	}
}

// Empty is the output of operations that return nothing; it encodes as {}.
type Empty struct{}

// groupARN is a log group's ARN as CloudWatch writes it in logGroupArn;
// the arn member adds ":*".
func (s *Service) groupARN(name string) string {
	return "arn:aws:logs:" + s.region + ":" + s.account + ":log-group:" + name
}

func (s *Service) streamARN(group, stream string) string {
	return s.groupARN(group) + ":log-stream:" + stream
}
