package server

import (
	"net/http"

	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/sigv4"
)

// newAuthenticator returns the SigV4 check for the edge: the one key pair of
// this server, the scopes of the APIs it serves in its region, ±15 minutes
// of skew.
func newAuthenticator(c Credentials, region string) apiserver.Authenticator {
	return &sigv4Auth{v: &sigv4.Verifier{
		Creds: sigv4.StaticCredentials{c.AccessKeyID: c.SecretAccessKey},
		// The scope service names of the APIs the edge serves; a request
		// signed for any other service is refused.
		Services: []string{"ecs", "logs", "elasticloadbalancing"},
		Region:   region,
	}}
}

type sigv4Auth struct{ v *sigv4.Verifier }

func (a *sigv4Auth) Authenticate(r *http.Request, body []byte) error {
	_, err := a.v.Verify(r, body)
	return err
}
