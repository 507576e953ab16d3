package bench

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/dpsctl/dpsctl/pkg/dps"
)

// newTLSClient is a service client that trusts the local service's CA.
func newTLSClient(connectionString, caFile string) (*dps.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return dps.New(dps.Options{ConnectionString: connectionString, HTTPClient: &http.Client{Transport: tr}})
}
