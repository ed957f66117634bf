package elbv2api

import (
	"flag"
	"maps"
	"slices"
	"testing"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/apicoverage"
)

var updateCoverage = flag.Bool("update-coverage", false, "rewrite docs/api-coverage-elbv2.md")

// partial lists the served operations that do not do everything ELB does,
// with what is missing. Every served operation not listed here is claimed
// supported, so an entry must be added when a gap is known.
var partial = map[string]string{
	"CreateLoadBalancer":          "application type, ipv4 only; subnets and security groups are stored, not acted on; DNSName is the bind address (127.0.0.1, or the server's configured address for internet-facing)",
	"CreateTargetGroup":           "HTTP/HTTPS with ip or instance type, both taking IPv4 targets; berth's fast health check defaults (interval 1 s, timeout 1 s, thresholds 2, matcher 200-399); intervals down to 1 s; HTTPS targets and health checks are spoken to in plain HTTP",
	"ModifyTargetGroup":           "as CreateTargetGroup",
	"ModifyTargetGroupAttributes": "deregistration_delay (default 5 s), slow_start and load_balancing.algorithm.type (round_robin, least_outstanding_requests) are acted on; stickiness.enabled must be false; the others are stored",
	"CreateListener":              "HTTP and HTTPS; certificates are file:///path.pem or berth:self-signed, not ACM ARNs; HTTPS listeners are stored but not yet served by the data plane; the port must be free among berth's listeners and bindable",
	"ModifyListener":              "as CreateListener",
	"CreateRule":                  "host-header and path-pattern conditions; one forward (weighted, no stickiness) or fixed-response action; no transforms",
	"ModifyRule":                  "as CreateRule",
	"RegisterTargets":             "targets are IPv4 addresses",
	"DescribeTargetHealth":        "from berth's data plane; anomaly detection is not reported",
}

// notYet explains unserved operations where there is more to say than "not yet".
var notYet = map[string]string{
	"AddListenerCertificates":        "one certificate per listener",
	"DescribeLoadBalancerAttributes": "load balancer attributes are not modelled",
	"ModifyLoadBalancerAttributes":   "load balancer attributes are not modelled",
	"SetSecurityGroups":              "berth has no security groups",
	"SetSubnets":                     "berth has no subnets",
	"CreateTrustStore":               "mutual TLS is not planned",
}

// differences closes the document: where berth's ELB is not AWS's.
const differences = `
## Where berth differs from ELB

- **Addresses.** Internet-facing load balancers' listeners bind the server's configured
  address (default 127.0.0.1; 0.0.0.0 serves other hosts); internal ones always bind
  127.0.0.1. DNSName is that address, so ` + "`curl http://<DNSName>:<port>/`" + ` works.
  CanonicalHostedZoneId is a fixed placeholder. A listener port must be free among all
  berth listeners (DuplicateListener) and bindable (InvalidConfigurationRequest).
- **Health checks** default to interval 1 s, timeout 1 s, healthy and unhealthy
  thresholds 2, matcher 200-399, path /, so a new target gets traffic about a second after
  it answers. Intervals and timeouts may be 1 s (ELB: 5 s and 2 s) and the timeout may
  equal the interval. TCP checks are allowed; HTTPS checks run as plain HTTP. Every value
  given is honoured.
- **Deregistration delay** defaults to 5 s (ELB: 300 s).
- **Targets** are IPv4 addresses with a port, for ip and instance target groups alike.
- **Certificates.** CertificateArn is ` + "`file:///abs/path.pem`" + ` (a PEM file with the chain and
  the private key), ` + "`file:///abs/cert.pem?key=/abs/key.pem`" + `, or ` + "`berth:self-signed`" + ` (an
  ECDSA certificate for the DNS name, localhost and 127.0.0.1, generated once per load
  balancer and kept in berth's store). Anything else is CertificateNotFound.
`

// TestAPICoverageDoc keeps docs/api-coverage-elbv2.md true: it is generated
// from the model's operation list and the operations this package serves.
func TestAPICoverageDoc(t *testing.T) {
	served := New(Config{}).Ops()
	apicoverage.Check(t, apicoverage.Doc{
		Title:      "Elastic Load Balancing v2 API coverage",
		Package:    "./internal/elbv2api",
		Operations: elbv2.Operations(),
		Served:     slices.Collect(maps.Keys(served)),
		Partial:    partial,
		NotYet:     notYet,
		Trailer:    differences,
	}, "../../docs/api-coverage-elbv2.md", *updateCoverage)
}
