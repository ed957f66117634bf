// Package sigv4 is the server side of AWS Signature Version 4: it checks
// that a request was signed (AWS4-HMAC-SHA256) with a secret key berth
// knows, the way an AWS endpoint does, so the aws CLI (v1 and v2),
// boto3/botocore and aws-sdk-go-v2 work against berth with nothing but an
// endpoint override.
//
// Verifier.Verify rebuilds the canonical request from the request as it
// arrived, derives the signing key from the secret of the access key in the
// credential scope, recomputes the signature and compares it in constant
// time. Errors are *awserr.Error with the exception names, HTTP statuses
// and (where known) messages AWS uses, checked in this order:
//
//   - no Authorization header and no presign query parameters:
//     MissingAuthenticationTokenException, 403;
//   - a malformed Authorization header (algorithm other than
//     AWS4-HMAC-SHA256, missing Credential, SignedHeaders or Signature, no
//     date header, a malformed scope, host or the date header not signed):
//     IncompleteSignatureException, 400, naming what is wrong (the header is
//     echoed, as AWS does, up to 512 bytes);
//   - a scope service not in Verifier.Services, a scope date other than the
//     request date, a request time out of range:
//     InvalidSignatureException, 400;
//   - an unknown access key: UnrecognizedClientException, 400;
//   - a wrong X-Amz-Content-Sha256 or signature: InvalidSignatureException.
//
// The scope region is checked against Verifier.Region when that is set (a
// request signed for another region is an InvalidSignatureException, as AWS
// answers it); it is returned in Identity.Region.
// Verify expects a request as net/http's server builds it (canonical
// header keys, Host and RequestURI set) and the whole body.
//
// # Canonical request
//
//   - Method as sent.
//   - Path: the path exactly as it came on the wire (r.RequestURI, else the
//     URL's escaped path), URI-encoded once more with '/' kept: every byte
//     outside A-Z a-z 0-9 - _ . ~ / becomes %XX, so "%2F" is signed as
//     "%252F". This is the non-S3 ("double encoding") rule both
//     aws-sdk-go-v2 and botocore follow.
//   - Query: each name and value decoded ('+' as space, an invalid escape
//     taken literally), re-encoded with the SigV4 set (space is %20), pairs
//     sorted by encoded name then value.
//   - Headers: those named in SignedHeaders in that order, value trimmed and
//     runs of spaces collapsed, repeated values joined with ','. host is
//     r.Host; a signed content-length or transfer-encoding that net/http
//     moved out of r.Header is taken from r.ContentLength/r.TransferEncoding.
//   - Payload: hex SHA-256 of body. When X-Amz-Content-Sha256 is sent it is
//     used instead but must equal that hash (any case), else
//     InvalidSignatureException; "UNSIGNED-PAYLOAD" is accepted only with
//     Verifier.AllowUnsignedPayload, because for berth's APIs the body is
//     the call and must be covered by the signature. Streaming (aws-chunked)
//     payload hashes are not supported.
//
// botocore (boto3, aws CLI v1 and v2) differs from the spec text in three
// places: it removes dot segments and repeated slashes from the path, signs
// the query string as sent (split on '&' and sorted, not re-encoded), and
// collapses every run of whitespace (not only spaces) in header values. Requests whose canonical
// form differs under those rules (a path with "..", "//" or "." segments, a
// query not already in canonical encoding, a tab inside a signed header) are
// checked a second time in botocore's form when the first check fails, so
// both signers are accepted; ordinary requests are hashed once.
//
// # Time
//
// The request time is X-Amz-Date (20060102T150405Z), else the Date header
// (an HTTP date, or RFC 1123 with a numeric zone as botocore writes it);
// whichever is used must be a signed header, and the scope date
// must equal its YYYYMMDD. It must lie within MaxSkew (default 15 minutes)
// of Now: exactly MaxSkew away is still accepted, one nanosecond more is
// "Signature expired" / "Signature not yet current".
//
// # Session tokens
//
// X-Amz-Security-Token is accepted (it must be signed when sent as a
// header) and returned in Identity.SessionToken, but it is NOT validated:
// berth has no STS, so only the access key and its secret authenticate.
//
// # Presigned URLs
//
// Query-string authentication (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires
// up to 604800 s and X-Amz-Security-Token) is verified too; X-Amz-Signature
// is left out of the canonical query. Without X-Amz-Expires the URL is
// valid within MaxSkew of X-Amz-Date; with it, from X-Amz-Date - MaxSkew to
// X-Amz-Date + X-Amz-Expires. A request carrying both an Authorization
// header and presign parameters is rejected.
//
// # Performance
//
// Derived signing keys are cached per (secret, date, region, service) in a
// bounded concurrency-safe map, the HMACs are computed over a pooled buffer
// with sha256.Sum256, and header lookups avoid allocation: verifying a
// typical API request with a cached key does not allocate and takes a few
// microseconds, most of it hashing.
package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-io/berth/internal/awserr"
)

// DefaultMaxSkew is the clock skew AWS tolerates and the default of
// Verifier.MaxSkew.
const DefaultMaxSkew = 15 * time.Minute

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	maxPresignTTL   = 7 * 24 * 60 * 60 // seconds, as S3
	maxEchoedHeader = 512              // bytes of Authorization echoed in errors
)

// Credentials looks up the secret access key of an access key ID.
type Credentials interface {
	SecretKey(accessKeyID string) (secret string, ok bool)
}

// CredentialsFunc adapts a function to Credentials.
type CredentialsFunc func(accessKeyID string) (secret string, ok bool)

// SecretKey calls f.
func (f CredentialsFunc) SecretKey(accessKeyID string) (string, bool) { return f(accessKeyID) }

// StaticCredentials maps access key IDs to secret access keys.
type StaticCredentials map[string]string

// SecretKey returns the secret of accessKeyID.
func (c StaticCredentials) SecretKey(accessKeyID string) (string, bool) {
	s, ok := c[accessKeyID]
	return s, ok
}

// Identity is who signed a verified request and for what scope.
type Identity struct {
	AccessKeyID string
	Region      string // credential-scope region, as the client chose it
	Service     string // credential-scope service, one of Verifier.Services
	// SessionToken is X-Amz-Security-Token if sent. It is not validated.
	SessionToken string
}

// Verifier checks SigV4-signed requests. Set the exported fields before
// the first Verify and do not copy a Verifier after that; Verify is safe
// for concurrent use.
type Verifier struct {
	// Creds resolves access key IDs; nil rejects every key.
	Creds Credentials
	// Services are the credential-scope service names accepted, e.g. "ecs",
	// "elasticloadbalancing", "application-autoscaling", "logs". Empty
	// accepts any.
	Services []string
	// Region, when set, is the only credential-scope region accepted.
	Region string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxSkew is how far the request time may be from Now; 0 is
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// AllowUnsignedPayload accepts X-Amz-Content-Sha256: UNSIGNED-PAYLOAD,
	// i.e. a body not covered by the signature. Off by default.
	AllowUnsignedPayload bool

	keys keyCache
}

// authInfo is what the client claims, from the header or the query.
type authInfo struct {
	credential    string // AKID/date/region/service/aws4_request
	signedHeaders string
	signature     string
	amzDate       string // 20060102T150405Z, as used in the string to sign
	when          time.Time
	dateHeader    string // the header the date came from; "" when presigned
	dateSigned    string // its SignedHeaders name
	presigned     bool
	expires       int64 // X-Amz-Expires seconds; 0 when absent
	token         string
}

// Verify checks the signature of r, whose body (already read) is body, and
// returns the signer. Errors are *awserr.Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	a, err := parseAuth(r)
	if err != nil {
		return Identity{}, err
	}

	// Credential scope: AKID/YYYYMMDD/region/service/aws4_request.
	parts := [5]string{}
	rest := a.credential
	n := 0
	for ; n < 4; n++ {
		var ok bool
		parts[n], rest, ok = strings.Cut(rest, "/")
		if !ok {
			break
		}
	}
	if n != 4 {
		return Identity{}, incomplete("Credential should be of the form '<AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request', not '%s'.", a.credential)
	}
	parts[4] = rest
	keyID, scopeDate, region, service, term := parts[0], parts[1], parts[2], parts[3], parts[4]
	switch {
	case keyID == "":
		return Identity{}, incomplete("Credential should name an access key: '%s'.", a.credential)
	case term != terminator:
		return Identity{}, incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", term)
	case region == "":
		return Identity{}, incomplete("Credential should be scoped to a valid region.")
	case service == "":
		return Identity{}, incomplete("Credential should be scoped to a valid service.")
	}
	if !hasHeader(a.signedHeaders, "host") {
		return Identity{}, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if a.dateHeader != "" && !hasHeader(a.signedHeaders, a.dateSigned) {
		return Identity{}, incomplete("'%s' must be a 'SignedHeader' in the AWS Authorization.", a.dateHeader)
	}
	if !a.presigned && len(r.Header["X-Amz-Security-Token"]) > 0 && !hasHeader(a.signedHeaders, "x-amz-security-token") {
		return Identity{}, incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if len(v.Services) > 0 && !slices.Contains(v.Services, service) {
		return Identity{}, invalid("Credential should be scoped to correct service: '%s'.", strings.Join(v.Services, "' or '"))
	}
	if v.Region != "" && region != v.Region {
		return Identity{}, invalid("Credential should be scoped to a valid region.")
	}
	if scopeDate != a.amzDate[:8] {
		return Identity{}, invalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", scopeDate, a.amzDate[:8], a.amzDate)
	}
	if err := v.checkTime(&a); err != nil {
		return Identity{}, err
	}

	var secret string
	ok := false
	if v.Creds != nil {
		secret, ok = v.Creds.SecretKey(keyID)
	}
	if !ok {
		return Identity{}, awserr.New(awserr.CodeUnrecognizedClient, "The security token included in the request is invalid.")
	}

	// Payload hash: the body's, or the X-Amz-Content-Sha256 the client
	// signed when it sent one (and it is the body's, or UNSIGNED-PAYLOAD
	// where allowed).
	sum := sha256.Sum256(body)
	var payload [64]byte
	hex.Encode(payload[:], sum[:])
	payloadHdr := ""
	if hs := r.Header["X-Amz-Content-Sha256"]; len(hs) > 0 {
		switch h := hs[0]; {
		case h == unsignedPayload && v.AllowUnsignedPayload:
		case h == unsignedPayload:
			return Identity{}, invalid("UNSIGNED-PAYLOAD is not accepted: the request body must be signed.")
		case !equalFoldHex(h, payload[:]):
			return Identity{}, invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		payloadHdr = hs[0]
	}

	var want [sha256.Size]byte
	if !decodeSig(&want, a.signature) {
		return Identity{}, errMismatch()
	}
	key := v.signingKey(secret, scopeDate, region, service)
	scope := a.credential[len(keyID)+1:]

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:0]
	matched := false
	for _, botocore := range [2]bool{false, true} {
		start := len(buf)
		buf = canonical(buf, r, &a, payload[:], payloadHdr, botocore)
		creq := buf[start:]
		if botocore && string(creq) == string(buf[:start]) {
			break // same canonical request: nothing new to try
		}
		if sig := sign(&key, a.amzDate, scope, sha256.Sum256(creq)); subtle.ConstantTimeCompare(sig[:], want[:]) == 1 {
			matched = true
			break
		}
	}
	if cap(buf) <= 64<<10 {
		*bp = buf
	}
	if !matched {
		return Identity{}, errMismatch()
	}
	return Identity{AccessKeyID: keyID, Region: region, Service: service, SessionToken: a.token}, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// parseAuth reads the claimed signature parameters from the Authorization
// header or the presign query parameters.
func parseAuth(r *http.Request) (authInfo, error) {
	var a authInfo
	authz := r.Header["Authorization"]
	var query url.Values
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "X-Amz-") {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature") {
			query = q
		}
	}
	switch {
	case len(authz) == 0 && query == nil:
		return a, awserr.WithStatus(http.StatusForbidden, awserr.CodeMissingAuthenticationToken, "Missing Authentication Token")
	case len(authz) > 0 && query != nil:
		return a, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case len(authz) > 1:
		return a, incomplete("Only one Authorization header allowed.")
	case query != nil:
		return parsePresign(query)
	}

	h := authz[0]
	alg, params, _ := strings.Cut(strings.TrimLeft(h, " "), " ")
	if alg != algorithm {
		return a, incomplete("Unsupported AWS 'algorithm': '%s'; only 'AWS4-HMAC-SHA256' is supported. Authorization=%s", truncate(alg, 64), truncate(h, maxEchoedHeader))
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ",")
		k, val, _ := strings.Cut(strings.Trim(p, " "), "=")
		switch k {
		case "Credential":
			if a.credential == "" {
				a.credential = val
			}
		case "SignedHeaders":
			if a.signedHeaders == "" {
				a.signedHeaders = val
			}
		case "Signature":
			if a.signature == "" {
				a.signature = val
			}
		}
	}

	var missing []string
	if a.credential == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if a.signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if a.signedHeaders == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	var dateErr error
	if d := r.Header["X-Amz-Date"]; len(d) > 0 {
		a.dateHeader, a.dateSigned, a.amzDate = "X-Amz-Date", "x-amz-date", d[0]
		t, err := time.Parse(amzDateLayout, d[0])
		if err != nil || len(d[0]) != len(amzDateLayout) {
			dateErr = incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", truncate(d[0], 64))
		}
		a.when = t
	} else if d := r.Header["Date"]; len(d) > 0 {
		t, err := http.ParseTime(d[0])
		if err != nil { // botocore's email.utils.formatdate: "... -0000"
			t, err = time.Parse(time.RFC1123Z, d[0])
		}
		if err != nil {
			dateErr = incomplete("Date must be an HTTP date. Got '%s'.", truncate(d[0], 64))
		}
		a.dateHeader, a.dateSigned, a.when = "Date", "date", t.UTC()
		a.amzDate = a.when.Format(amzDateLayout)
	} else {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return a, incomplete("%s Authorization=%s", strings.Join(missing, " "), truncate(h, maxEchoedHeader))
	}
	if dateErr != nil {
		return a, dateErr
	}
	if ts := r.Header["X-Amz-Security-Token"]; len(ts) > 0 {
		a.token = ts[0]
	}
	return a, nil
}

func parsePresign(q url.Values) (authInfo, error) {
	a := authInfo{
		presigned:     true,
		credential:    q.Get("X-Amz-Credential"),
		signedHeaders: q.Get("X-Amz-SignedHeaders"),
		signature:     q.Get("X-Amz-Signature"),
		amzDate:       q.Get("X-Amz-Date"),
		token:         q.Get("X-Amz-Security-Token"),
	}
	var missing []string
	for _, p := range [...]struct{ name, val string }{
		{"X-Amz-Algorithm", q.Get("X-Amz-Algorithm")},
		{"X-Amz-Credential", a.credential},
		{"X-Amz-Signature", a.signature},
		{"X-Amz-Date", a.amzDate},
		{"X-Amz-SignedHeaders", a.signedHeaders},
	} {
		if p.val == "" {
			missing = append(missing, "'"+p.name+"'")
		}
	}
	if len(missing) > 0 {
		return a, incomplete("AWS query-string parameters must include %s. Re-examine the query-string parameters.", strings.Join(missing, ", "))
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return a, incomplete("Unsupported AWS 'algorithm': '%s'; only 'AWS4-HMAC-SHA256' is supported.", truncate(alg, 64))
	}
	t, err := time.Parse(amzDateLayout, a.amzDate)
	if err != nil || len(a.amzDate) != len(amzDateLayout) {
		return a, incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\". Got '%s'.", truncate(a.amzDate, 64))
	}
	a.when = t
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 1 || n > maxPresignTTL {
			return a, incomplete("X-Amz-Expires must be an integer number of seconds from 1 to %d (a week), not '%s'.", maxPresignTTL, truncate(e, 32))
		}
		a.expires = n
	}
	return a, nil
}

// checkTime enforces MaxSkew (and X-Amz-Expires for presigned URLs).
func (v *Verifier) checkTime(a *authInfo) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if a.expires > 0 {
		if end := a.when.Add(time.Duration(a.expires) * time.Second); t.After(end) {
			return invalid("Signature expired: %s is now earlier than %s (%s - %d sec.)", a.amzDate, t.Add(-time.Duration(a.expires)*time.Second).Format(amzDateLayout), t.Format(amzDateLayout), a.expires)
		}
	} else if a.when.Before(t.Add(-skew)) {
		return invalid("Signature expired: %s is now earlier than %s (%s - %s.)", a.amzDate, t.Add(-skew).Format(amzDateLayout), t.Format(amzDateLayout), skewText(skew))
	}
	if a.when.After(t.Add(skew)) {
		return invalid("Signature not yet current: %s is still later than %s (%s + %s.)", a.amzDate, t.Add(skew).Format(amzDateLayout), t.Format(amzDateLayout), skewText(skew))
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// canonical appends the canonical request. botocore selects botocore's
// variant: normalized path, query as sent, all whitespace collapsed.
// The payload hash is payloadHdr if set, else payload.
func canonical(dst []byte, r *http.Request, a *authInfo, payload []byte, payloadHdr string, botocore bool) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	path := rawPath(r)
	if botocore {
		path = removeDotSegments(path)
	}
	if path == "" {
		path = "/"
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c == '/' || unreserved(c) {
			dst = append(dst, c)
		} else {
			dst = appendEscape(dst, c)
		}
	}
	dst = append(dst, '\n')
	if r.URL != nil {
		dst = appendQuery(dst, r.URL.RawQuery, a.presigned, botocore)
	}
	dst = append(dst, '\n')
	for names := a.signedHeaders; ; {
		name, rest, more := strings.Cut(names, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = appendHeader(dst, r, name, botocore)
		dst = append(dst, '\n')
		if !more {
			break
		}
		names = rest
	}
	dst = append(dst, '\n')
	dst = append(dst, a.signedHeaders...)
	dst = append(dst, '\n')
	if payloadHdr != "" {
		return append(dst, payloadHdr...)
	}
	return append(dst, payload...)
}

// rawPath is the request path as it came on the wire, still escaped.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		p, _, _ := strings.Cut(u, "?")
		return p
	}
	if r.URL == nil {
		return "/"
	}
	if o := r.URL.Opaque; o != "" { // as aws-sdk-go-v2's GetURIPath
		o, _, _ = strings.Cut(o, "?")
		o = strings.TrimPrefix(o, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			return o[i:]
		}
		return "/"
	}
	return r.URL.EscapedPath()
}

// removeDotSegments is botocore's normalize_url_path: RFC 3986 dot-segment
// removal plus collapsing empty segments.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && !strings.HasPrefix(p, ".") {
		return p
	}
	var out []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	first, last := "", ""
	if p[0] == '/' {
		first = "/"
	}
	if p[len(p)-1] == '/' && len(out) > 0 {
		last = "/"
	}
	return first + strings.Join(out, "/") + last
}

type queryPair struct{ k, v string }

// appendQuery appends the canonical query string. skipSig drops
// X-Amz-Signature (presigned URLs); asSent keeps each pair's encoding.
func appendQuery(dst []byte, raw string, skipSig, asSent bool) []byte {
	if raw == "" {
		return dst
	}
	var arr [16]queryPair
	pairs := arr[:0]
	for more := true; more; {
		var p string
		p, raw, more = strings.Cut(raw, "&")
		if p == "" && !asSent {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if !asSent {
			k, v = queryComponent(k), queryComponent(v)
		}
		if skipSig && (k == "X-Amz-Signature" || queryComponent(k) == "X-Amz-Signature") {
			continue
		}
		pairs = append(pairs, queryPair{k, v})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.k...)
		dst = append(dst, '=')
		dst = append(dst, p.v...)
	}
	return dst
}

// queryComponent returns s decoded ('+' is a space, a bad escape is taken
// literally) and re-encoded the SigV4 way. Already canonical input is
// returned as is, without allocating.
func queryComponent(s string) string {
	canonical := true
	for i := 0; i < len(s) && canonical; i++ {
		switch c := s[i]; {
		case unreserved(c):
		case c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) && !unreserved(unhex(s[i+1])<<4|unhex(s[i+2])):
			i += 2
		default:
			canonical = false
		}
	}
	if canonical {
		return s
	}
	dec, err := url.QueryUnescape(s)
	if err != nil {
		dec = s
	}
	b := make([]byte, 0, len(dec)*3)
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; unreserved(c) {
			b = append(b, c)
		} else {
			b = appendEscape(b, c)
		}
	}
	return string(b)
}

// appendHeader appends the canonical value of the signed header name.
func appendHeader(dst []byte, r *http.Request, name string, botocore bool) []byte {
	if name == "host" {
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return appendValue(dst, h, botocore)
	}
	vals := lookup(r.Header, name)
	if vals == nil {
		switch name {
		case "content-length":
			if r.ContentLength >= 0 {
				return strconv.AppendInt(dst, r.ContentLength, 10)
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		}
	}
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v, botocore)
	}
	return dst
}

// lookup finds the values of header name, given in lowercase, in a server
// request's header map, whose keys net/http has canonicalized (or left as
// sent when not a valid token). It does not allocate.
func lookup(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h[textproto.CanonicalMIMEHeaderKey(name)]
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isTokenChar(c) {
			return h[name] // net/http keeps such keys as they came
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(name)])]
}

// isTokenChar reports whether c may appear in a header name (RFC 7230
// tchar), as net/textproto decides whether to canonicalize a key.
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// appendValue appends a header value trimmed with inner runs of spaces
// collapsed (aws-sdk-go-v2, the spec), or with every run of whitespace
// collapsed (botocore's ' '.join(value.split())).
func appendValue(dst []byte, v string, botocore bool) []byte {
	if botocore {
		for i, f := range strings.Fields(v) {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, f...)
		}
		return dst
	}
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, v[i])
	}
	return dst
}

// hasHeader reports whether the ';'-separated list contains name.
func hasHeader(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if h == name {
			return true
		}
	}
	return false
}

// sign returns HMAC-SHA256(key, string to sign) computed with Sum256 over a
// stack buffer, so it does not allocate.
func sign(key *[32]byte, amzDate, scope string, creqHash [32]byte) [32]byte {
	const block = 64
	var sts [block + 256]byte // ipad-key || string to sign
	var outer [block + sha256.Size]byte
	for i := range block {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		sts[i], outer[i] = k^0x36, k^0x5c
	}
	b := append(sts[:block], algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, creqHash[:])
	inner := sha256.Sum256(b)
	copy(outer[block:], inner[:])
	return sha256.Sum256(outer[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	const block = 64
	if len(key) > block {
		k := sha256.Sum256(key)
		key = k[:]
	}
	var ipad, opad [block]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range block {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	inner := sha256.Sum256(append(ipad[:], msg...))
	out := sha256.Sum256(append(opad[:], inner[:]...))
	return out[:]
}

// deriveKey is the SigV4 signing key chain.
func deriveKey(secret, date, region, service string) [32]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return [32]byte(hmacSHA256(k, terminator))
}

// maxCachedKeys bounds the derived-key cache. Keys change daily, so a full
// cache evicts an arbitrary entry.
const maxCachedKeys = 1024

type cacheKey struct{ secret, date, region, service string }

type keyCache struct {
	mu sync.RWMutex
	m  map[cacheKey][32]byte
}

func (v *Verifier) signingKey(secret, date, region, service string) [32]byte {
	c := &v.keys
	ck := cacheKey{secret, date, region, service}
	c.mu.RLock()
	k, ok := c.m[ck]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = deriveKey(secret, date, region, service)
	// The parts are substrings of the Authorization header: clone them so
	// the cache does not pin request memory.
	ck = cacheKey{secret, strings.Clone(date), strings.Clone(region), strings.Clone(service)}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey][32]byte)
	}
	if len(c.m) >= maxCachedKeys {
		for old := range c.m { // map order is random: evict one
			delete(c.m, old)
			break
		}
	}
	c.m[ck] = k
	c.mu.Unlock()
	return k
}

// equalFoldHex reports whether s equals the lowercase hex b in any case.
func equalFoldHex(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := range b {
		c := s[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}

// decodeSig decodes a 64-digit hex signature.
func decodeSig(dst *[32]byte, s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range dst {
		hi, lo := s[2*i], s[2*i+1]
		if !isHex(hi) || !isHex(lo) {
			return false
		}
		dst[i] = unhex(hi)<<4 | unhex(lo)
	}
	return true
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
func isHex(c byte) bool      { return isUpperHex(c) || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func appendEscape(dst []byte, c byte) []byte {
	const digits = "0123456789ABCDEF"
	return append(dst, '%', digits[c>>4], digits[c&15])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func incomplete(format string, args ...any) *awserr.Error {
	return awserr.New(awserr.CodeIncompleteSignature, format, args...)
}

func invalid(format string, args ...any) *awserr.Error {
	return awserr.New(awserr.CodeInvalidSignature, format, args...)
}

func errMismatch() *awserr.Error {
	return invalid("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}
