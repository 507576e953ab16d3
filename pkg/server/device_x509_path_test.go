package server

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/certs/certstest"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// sent is the TLS client certificate of a device that sends pairs[0] as
// its certificate (with its key) followed by the rest, in that order.
func sent(pairs ...*certs.Pair) *tls.Certificate {
	c := &tls.Certificate{PrivateKey: pairs[0].Key, Leaf: pairs[0].Cert}
	for _, p := range pairs {
		c.Certificate = append(c.Certificate, p.Cert.Raw)
	}
	return c
}

// permutations returns every order of xs.
func permutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{append([]T(nil), xs...)}
	}
	var out [][]T
	for i := range xs {
		rest := append(append([]T(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

// TestX509GroupFollowsVerifiedPath checks that the group nearest the device
// certificate on the path verified by signatures decides, whatever order
// the device sends its chain in and whatever else it sends: a disabled
// intermediate's group cannot be bypassed through its root's, and a CA
// certificate is never accepted as the device's.
func TestX509GroupFollowsVerifiedPath(t *testing.T) {
	e, logs := logEnv(t, nil)
	s := serve(t, e.inst)

	// Certificates on no path of any device below.
	otherRoot, err := certs.NewRoot(certs.Options{CommonName: "Unrelated Root"})
	if err != nil {
		t.Fatal(err)
	}
	otherInter, err := certs.NewIntermediate(otherRoot, certs.Options{CommonName: "Unrelated Intermediate"})
	if err != nil {
		t.Fatal(err)
	}

	// Which groups exist for a PKI (root R, intermediate I, device L), and
	// with which status; "" is no group.
	configs := []struct {
		name        string
		inter, root string
	}{
		{"intermediate disabled, root enabled", "disabled", "enabled"},
		{"intermediate enabled, root disabled", "enabled", "disabled"},
		{"both disabled", "disabled", "disabled"},
		{"intermediate only", "enabled", ""},
		{"root only, enabled", "", "enabled"},
		{"root only, disabled", "", "disabled"},
	}
	for n, cfg := range configs {
		regID := fmt.Sprintf("perm-%d", n)
		root, err := certs.NewRoot(certs.Options{CommonName: fmt.Sprintf("Perm Root %d", n)})
		if err != nil {
			t.Fatal(err)
		}
		// The intermediate's CN is the registration ID: as the device's
		// certificate it would match, but a CA is never the device.
		inter, err := certs.NewIntermediate(root, certs.Options{CommonName: regID})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := certs.NewDevice(inter, regID, certs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// A CA with the intermediate's name but another key.
		impostor, err := certs.NewIntermediate(otherRoot, certs.Options{CommonName: regID})
		if err != nil {
			t.Fatal(err)
		}
		interGroup, rootGroup := fmt.Sprintf("perm-%d-int", n), fmt.Sprintf("perm-%d-root", n)
		if cfg.inter != "" {
			e.put("/enrollmentGroups/"+interGroup, x509Group(interGroup, inter.Cert, cfg.inter))
		}
		if cfg.root != "" {
			e.put("/enrollmentGroups/"+rootGroup, x509Group(rootGroup, root.Cert, cfg.root))
		}

		// What a device that sends its own certificate first gets: the
		// nearest group on the verified path decides; without the
		// intermediate's group the path needs the intermediate sent.
		type outcome struct{ status, group string }
		result := map[string]string{"enabled": model.RegAssigned, "disabled": model.RegDisabled}
		decide := func(interSent bool) *outcome {
			switch {
			case cfg.inter != "":
				return &outcome{result[cfg.inter], interGroup}
			case interSent:
				return &outcome{result[cfg.root], rootGroup}
			}
			return nil
		}
		type row struct {
			name   string
			cert   *tls.Certificate
			want   *outcome // nil: refused
			reason string   // in the log, when refused
		}
		var rows []row
		names := map[*certs.Pair]string{leaf: "L", inter: "I", root: "R"}
		for _, p := range permutations([]*certs.Pair{leaf, inter, root}) {
			name := names[p[0]] + "," + names[p[1]] + "," + names[p[2]]
			switch p[0] {
			case leaf:
				rows = append(rows, row{name, sent(p...), decide(true), ""})
			case inter:
				rows = append(rows, row{name, sent(p...), nil, "CA certificate"})
			default:
				rows = append(rows, row{name, sent(p...), nil, "is not the registration ID"})
			}
		}
		rows = append(rows,
			row{"L alone", sent(leaf), decide(false), "does not verify"},
			row{"L,I", sent(leaf, inter), decide(true), ""},
			row{"L,R", sent(leaf, root), decide(false), "does not verify"},
			row{"unrelated certificates around the chain", sent(leaf, otherRoot, inter, otherInter, root), decide(true), ""},
			row{"impostor of I before I", sent(leaf, impostor, root, inter), decide(true), ""},
			row{"impostor instead of I", sent(leaf, impostor, root), decide(false), "does not verify"},
		)
		for _, r := range rows {
			t.Run(cfg.name+"/"+r.name, func(t *testing.T) {
				d := s.client(t, r.cert, true)
				if r.want == nil {
					mark := logs.mark()
					res := d.register(regID, "", map[string]string{"registrationId": regID})
					mustBeInvalidCertificate(t, res, logs, mark, r.reason)
					return
				}
				op := d.provision(regID, "", nil)
				rs := op.RegistrationState
				if op.Status != r.want.status || rs == nil || rs.X509 == nil || rs.X509.EnrollmentGroupID != r.want.group {
					t.Fatalf("want %s through %s, got %+v / %+v", r.want.status, r.want.group, op, rs)
				}
			})
		}
	}
}

// TestX509RefusalsAreLogged checks the reasons of refused certificates
// reach the log while the device only learns "Invalid certificate.".
func TestX509RefusalsAreLogged(t *testing.T) {
	e, logs := logEnv(t, nil)
	s := serve(t, e.inst)

	ca := certstest.New(t)
	e.put("/enrollmentGroups/ca-grp", x509Group("ca-grp", ca.Root.Cert, "enabled"))
	// An individual enrollment whose certificate is a CA certificate.
	selfCA, err := certs.NewRoot(certs.Options{CommonName: "x-self-ca"})
	if err != nil {
		t.Fatal(err)
	}
	e.put("/enrollments/x-self-ca", x509Individual("x-self-ca", selfCA.Cert, nil, "enabled"))
	// A sub-CA of the group's root named like a device.
	subCA, err := certs.NewIntermediate(ca.Root, certs.Options{CommonName: "x-sub-ca"})
	if err != nil {
		t.Fatal(err)
	}
	// An X.509 device of the group registering under a symmetric-key
	// enrollment's ID.
	e.put("/enrollments/x-sym", map[string]any{"registrationId": "x-sym", "attestation": symKeys(keyA, keyB)})
	symDev := ca.Device(t, "x-sym")

	tests := []struct {
		name, id string
		cert     *tls.Certificate
		reason   string
	}{
		{"CA certificate of an individual enrollment", "x-self-ca", sent(selfCA), "CA certificate"},
		{"CA certificate under the group's root", "x-sub-ca", sent(subCA, ca.Root), "CA certificate"},
		{"enrolled with another attestation", "x-sym", tlsCert(symDev.Pair, symDev.Chain), "is enrolled with symmetricKey attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.client(t, tt.cert, true)
			mark := logs.mark()
			r := d.register(tt.id, "", nil)
			mustBeInvalidCertificate(t, r, logs, mark, tt.reason)
		})
	}
}
