// Package importbench makes the workload of the import benchmark and the
// crash test: enrollment files of any size mixing TPM, X.509 and
// symmetric-key rows, every row valid and every ID distinct.
package importbench

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/dpsctl/dpsctl/pkg/enrollfile"
	"github.com/dpsctl/dpsctl/pkg/enrollfile/enrollfiletest"
)

// keyPool is the number of device keys X.509 rows share: every row has its
// own certificate (its CN is the registration ID), but making a key per row
// would dominate the time to generate a large file.
const keyPool = 64

// Write writes a CSV file of n enrollments: a third each TPM (a fresh ECC
// endorsement key per row), X.509 (a device certificate per row, inline as
// base64 DER, issued by one throw-away CA and valid from an hour ago for
// 30 days) and symmetric key (keys given on every other row). Some rows
// carry hubs, an allocation policy and twin tags. IDs are prefix-0000001….
func Write(w io.Writer, n int, prefix string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "import benchmark CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	keys := make([]*ecdsa.PrivateKey, keyPool)
	for i := range keys {
		if keys[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := enrollfile.NewCSVWriter(bw)
	secret := make([]byte, 32)
	for i := range n {
		r := &enrollfile.Record{}
		id := fmt.Sprintf("%s-%07d", prefix, i+1)
		r.Set(enrollfile.RegistrationID, id)
		switch i % 3 {
		case 0:
			r.Set(enrollfile.Attestation, "tpm")
			r.Set(enrollfile.EndorsementKey, enrollfiletest.NewEK())
		case 1:
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(int64(i) + 2), Subject: pkix.Name{CommonName: id},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}
			k := keys[i%keyPool]
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
			if err != nil {
				return err
			}
			r.Set(enrollfile.Attestation, "x509")
			r.Set(enrollfile.Certificate, base64.StdEncoding.EncodeToString(der))
		case 2:
			r.Set(enrollfile.Attestation, "symmetricKey")
			if i%2 == 0 {
				rand.Read(secret)
				r.Set(enrollfile.PrimaryKey, base64.StdEncoding.EncodeToString(secret))
				rand.Read(secret)
				r.Set(enrollfile.SecondaryKey, base64.StdEncoding.EncodeToString(secret))
			}
		}
		if i%5 == 0 {
			r.Set(enrollfile.IoTHubs, "hub1.azure-devices.net;hub2.azure-devices.net")
			r.Set(enrollfile.AllocationPolicy, "hashed")
			r.Set(enrollfile.Tags, fmt.Sprintf(`{"line":%d,"site":"plant-%d"}`, i%7, i%3))
		}
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	if err := cw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
