package enrollfile

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/tpm"
)

// DefaultWebhookAPIVersion is the webhookApiVersion of custom allocation
// rows that give none (the value "dpsctl enrollment create" uses).
const DefaultWebhookAPIVersion = "2019-03-31"

// ThumbprintPrefix starts a certificate value that names a certificate by
// its SHA-256 thumbprint instead of giving it. Exports write this form,
// since the service never returns certificates.
const ThumbprintPrefix = "sha256:"

// minInlineBase64 is the shortest value taken as an inline base64
// certificate rather than a file name (a DER certificate is far longer).
const minInlineBase64 = 100

// Checker turns records into enrollments. Check validates a record the way
// the service and the device will; Build converts a record that Check
// already accepted, skipping the costly checks. Check and Build may be
// called from several goroutines at once (the import checks rows on every
// core): a Checker holds no state that they change, and Now must be safe
// for concurrent use too (time.Now is).
type Checker struct {
	// File names the file in errors.
	File string
	// Dir is the directory relative certificate paths are resolved
	// against (normally the directory of the file; "" is the working
	// directory).
	Dir string
	// Now is the clock of the certificate validity check (time.Now when nil).
	Now func() time.Time
	// IDsOnly is for deletions: only registrationId is needed and checked.
	IDsOnly bool
	// Kind is the kind of the file's rows: individual enrollments (the
	// zero value), or enrollment groups (SchemaOf says how their files
	// differ), which only CheckEntity and BuildEntity make.
	Kind model.EnrollmentKind
}

// Check validates every column of r and returns the enrollment it
// describes, or one *RowError per problem found. The Checker's Kind must
// be individual enrollments.
func (c *Checker) Check(r *Record) (*model.IndividualEnrollment, []*RowError) {
	e, errs := c.convert(r, true)
	return e.(*model.IndividualEnrollment), errs
}

// Build converts r, already accepted by Check, into an enrollment.
func (c *Checker) Build(r *Record) (*model.IndividualEnrollment, error) {
	e, err := c.BuildEntity(r)
	if err != nil {
		return nil, err
	}
	return e.(*model.IndividualEnrollment), nil
}

// CheckEntity is Check for rows of the Checker's Kind: it returns an
// *model.IndividualEnrollment or an *model.EnrollmentGroup.
func (c *Checker) CheckEntity(r *Record) (model.Enrollable, []*RowError) {
	return c.convert(r, true)
}

// BuildEntity is Build for rows of the Checker's Kind.
func (c *Checker) BuildEntity(r *Record) (model.Enrollable, error) {
	e, errs := c.convert(r, false)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return e, nil
}

// rowErrors collects the problems of one record.
type rowErrors struct {
	file   string
	line   int
	schema Schema
	errs   []*RowError
}

func (re *rowErrors) add(col Column, format string, args ...any) {
	re.errs = append(re.errs, &RowError{File: re.file, Line: re.line, Column: re.schema.Name(col), Err: fmt.Errorf(format, args...)})
}

func (re *rowErrors) addErr(col Column, err error) {
	re.errs = append(re.errs, &RowError{File: re.file, Line: re.line, Column: re.schema.Name(col), Err: err})
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ParseAttestation maps the accepted spellings of an attestation (the wire
// names and the CLI flag names, any case) to the wire name.
func ParseAttestation(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "tpm":
		return model.AttestationTPM, true
	case "x509":
		return model.AttestationX509, true
	case "symmetrickey", "symmetric-key", "symmetric_key":
		return model.AttestationSymmetricKey, true
	}
	return "", false
}

// mechanismColumns are the columns of one attestation mechanism each.
var mechanismColumns = []struct {
	col Column
	typ string
}{
	{EndorsementKey, model.AttestationTPM},
	{Certificate, model.AttestationX509},
	{SecondaryCertificate, model.AttestationX509},
	{PrimaryKey, model.AttestationSymmetricKey},
	{SecondaryKey, model.AttestationSymmetricKey},
}

func (c *Checker) convert(r *Record, full bool) (model.Enrollable, []*RowError) {
	re := &rowErrors{file: c.File, line: r.Line, schema: SchemaOf(c.Kind)}
	v := func(col Column) string { return r.Values[col] }
	id := v(RegistrationID)
	var ent model.Enrollable
	var ind *model.IndividualEnrollment // nil for a group
	if c.Kind == model.KindGroup {
		ent = &model.EnrollmentGroup{EnrollmentGroupID: id}
	} else {
		ind = &model.IndividualEnrollment{RegistrationID: id}
		ent = ind
	}
	e := ent.Common()

	idOK := false
	if id == "" {
		re.add(RegistrationID, "required")
	} else if err := model.ValidateID(id); err != nil {
		re.addErr(RegistrationID, err)
	} else {
		idOK = true
	}
	if c.IDsOnly {
		return ent, re.errs
	}

	att, attOK := "", false
	switch s := v(Attestation); {
	case s == "":
		re.add(Attestation, "required (tpm, x509 or symmetricKey)")
	default:
		if att, attOK = ParseAttestation(s); !attOK {
			re.add(Attestation, "%q is not an attestation; use tpm, x509 or symmetricKey (or symmetric-key)", s)
		} else if att == model.AttestationTPM && c.Kind == model.KindGroup {
			re.add(Attestation, "an enrollment group takes x509 or symmetricKey attestation; TPM devices are enrolled one by one")
			attOK = false
		}
	}
	// Columns that belong to another mechanism are mistakes.
	if attOK {
		for _, m := range mechanismColumns {
			if v(m.col) != "" && m.typ != att {
				re.add(m.col, "only %s attestation takes this column; the row's attestation is %s", m.typ, att)
			}
		}
	}
	if attOK {
		e.Attestation = &model.AttestationMechanism{Type: att}
		switch att {
		case model.AttestationTPM:
			c.tpm(e, r, re, full)
		case model.AttestationX509:
			if idOK && ind != nil && len(id) > model.MaxX509IDLength {
				re.add(RegistrationID, "an X.509 registration ID (the certificate CN) is limited to %d characters; this one has %d", model.MaxX509IDLength, len(id))
			}
			c.x509(e, id, r, re, full, idOK)
		case model.AttestationSymmetricKey:
			keys := &model.SymmetricKeyAttestation{}
			for _, k := range []struct {
				col Column
				dst *string
			}{{PrimaryKey, &keys.PrimaryKey}, {SecondaryKey, &keys.SecondaryKey}} {
				s := v(k.col)
				switch {
				case s == "":
				case s == "***":
					re.add(k.col, "the key is masked (***); export with --show-keys, or leave the column empty to keep the service's key")
				default:
					if err := model.ValidateSymmetricKey(s); err != nil {
						re.addErr(k.col, err)
					}
					*k.dst = s
				}
			}
			e.Attestation.SymmetricKey = keys
		}
	}

	if s := v(DeviceID); s != "" && ind != nil {
		if err := validateDeviceID(s); err != nil {
			re.addErr(DeviceID, err)
		}
		ind.DeviceID = s
	}
	hubs := c.hubs(v(IoTHubs), re)
	e.IoTHubs = hubs
	c.allocation(e, r, re, len(hubs))
	switch s := v(ProvisioningStatus); {
	case s == "":
	case strings.EqualFold(s, model.StatusEnabled):
		e.ProvisioningStatus = model.StatusEnabled
	case strings.EqualFold(s, model.StatusDisabled):
		e.ProvisioningStatus = model.StatusDisabled
	default:
		re.add(ProvisioningStatus, "%q is not a status; use enabled or disabled", s)
	}
	if s := v(ReprovisionPolicy); s != "" {
		p, err := ParseReprovisionPolicy(s)
		if err != nil {
			re.addErr(ReprovisionPolicy, err)
		}
		e.ReprovisionPolicy = p
	}
	if s := v(IoTEdge); s != "" {
		b, ok := parseBool(s)
		if !ok {
			re.add(IoTEdge, "%q is not a boolean; use true or false", s)
		}
		e.Capabilities = &model.DeviceCapabilities{IoTEdge: b}
	}
	var twin model.InitialTwin
	if s := v(Tags); s != "" {
		raw, err := jsonObject(s)
		if err != nil {
			re.addErr(Tags, err)
		}
		twin.Tags = raw
	}
	if s := v(DesiredProperties); s != "" {
		raw, err := jsonObject(s)
		if err != nil {
			re.addErr(DesiredProperties, err)
		}
		if raw != nil {
			twin.Properties = &model.InitialTwinProperties{Desired: raw}
		}
	}
	if twin.Tags != nil || twin.Properties != nil {
		e.InitialTwin = &twin
	}
	return ent, re.errs
}

func (c *Checker) tpm(e *model.EnrollmentCommon, r *Record, re *rowErrors, full bool) {
	s := r.Values[EndorsementKey]
	if s == "" {
		re.add(EndorsementKey, "required for tpm attestation (base64 TPM2B_PUBLIC)")
		return
	}
	ek := s
	_, stdErr := base64.StdEncoding.DecodeString(s)
	if full || stdErr != nil {
		var err error
		if ek, err = tpm.CheckEK(s); err != nil {
			re.addErr(EndorsementKey, err)
			return
		}
	}
	e.Attestation.TPM = &model.TPMAttestation{EndorsementKey: ek}
}

// x509 reads the certificate columns: an enrollment's client
// certificates, which must authenticate the device id names, or a group's
// signing certificates, which must be able to sign device certificates.
func (c *Checker) x509(e *model.EnrollmentCommon, id string, r *Record, re *rowErrors, full, idOK bool) {
	group := c.Kind == model.KindGroup
	x := &model.X509Certificates{}
	if r.Values[Certificate] == "" {
		re.add(Certificate, "required for x509 attestation (a file name, inline PEM or %s<thumbprint>)", ThumbprintPrefix)
	}
	for _, slot := range []struct {
		col Column
		dst **model.X509CertificateWithInfo
	}{{Certificate, &x.Primary}, {SecondaryCertificate, &x.Secondary}} {
		s := r.Values[slot.col]
		if s == "" {
			continue
		}
		wire, cert, err := c.certificate(s, full)
		if err != nil {
			re.addErr(slot.col, err)
			continue
		}
		*slot.dst = wire
		if full && cert != nil && group {
			if ps := certs.CheckSigningCertificate(cert, c.now()); len(ps) > 0 {
				re.add(slot.col, "%s cannot sign the group's device certificates: %s", certs.Label("certificate", cert), reasons(ps))
			}
		} else if full && cert != nil && idOK {
			if ps := certs.CheckDeviceCertificate(cert, id, c.now()); len(ps) > 0 {
				re.add(slot.col, "%s cannot authenticate the device: %s", certs.Label("certificate", cert), reasons(ps))
			}
		}
	}
	e.Attestation.X509 = &model.X509Attestation{}
	*c.Kind.Certificates(e.Attestation.X509) = x
}

func reasons(ps []certs.Problem) string {
	rs := make([]string, len(ps))
	for i, p := range ps {
		rs[i] = p.Reason
	}
	return strings.Join(rs, "; ")
}

// certificate reads a certificate column: a thumbprint reference, inline
// PEM (line breaks may be written as \n), inline base64 of DER or PEM, or
// the name of a file. When full is false inline certificates are passed on
// without parsing.
func (c *Checker) certificate(s string, full bool) (*model.X509CertificateWithInfo, *x509.Certificate, error) {
	if rest, ok := cutPrefixFold(s, ThumbprintPrefix); ok {
		raw, err := hex.DecodeString(strings.ReplaceAll(rest, ":", ""))
		if err != nil || len(raw) != 32 {
			return nil, nil, fmt.Errorf("%q is not a SHA-256 thumbprint (64 hex digits after %s)", s, ThumbprintPrefix)
		}
		return &model.X509CertificateWithInfo{Info: &model.X509CertificateInfo{SHA256Thumbprint: strings.ToUpper(hex.EncodeToString(raw))}}, nil, nil
	}
	inline := ""
	switch {
	case strings.Contains(s, "-----BEGIN"):
		inline = strings.ReplaceAll(s, `\n`, "\n")
	case len(s) >= minInlineBase64 && isBase64(s):
		inline = s
	}
	if inline != "" {
		if !full {
			return &model.X509CertificateWithInfo{Certificate: inline}, nil, nil
		}
		chain, err := certs.ParseWireCertificate(inline)
		if err != nil {
			return nil, nil, fmt.Errorf("inline certificate: %v", err)
		}
		return &model.X509CertificateWithInfo{Certificate: inline}, chain[0], nil
	}
	p := s
	if !filepath.IsAbs(p) && c.Dir != "" {
		p = filepath.Join(c.Dir, p)
	}
	data, err := readCertificateFile(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if p != s {
			return nil, nil, fmt.Errorf("cannot read %s (%s): %v", s, p, err)
		}
		return nil, nil, fmt.Errorf("cannot read %s: %v", s, err)
	}
	cs, err := certs.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", s, err)
	}
	return &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(cs[0])}, cs[0], nil
}

// MaxCertificateFile is the size limit of a certificate file named in a
// certificate column: far more than any certificate chain, little enough
// that a file naming a big or endless file cannot exhaust memory.
const MaxCertificateFile = 1 << 20

// readCertificateFile reads a certificate file: a regular file (or a
// link to one) of at most MaxCertificateFile bytes. Devices, pipes and
// directories are refused before they are opened, since opening a pipe
// can block and reading a device can go on without end.
func readCertificateFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := certificateFileUsable(fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The name may have been pointed elsewhere since the Stat.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := certificateFileUsable(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxCertificateFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxCertificateFile {
		return nil, errTooBig
	}
	return data, nil
}

var errTooBig = fmt.Errorf("larger than %d bytes (1 MB), the limit for a certificate file", MaxCertificateFile)

func certificateFileUsable(fi os.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		if fi.Size() > MaxCertificateFile {
			return errTooBig
		}
		return nil
	case m.IsDir():
		return errors.New("a directory, not a certificate file")
	case m&os.ModeNamedPipe != 0:
		return errors.New("a named pipe; only regular files are read")
	case m&(os.ModeDevice|os.ModeCharDevice) != 0:
		return errors.New("a device; only regular files are read")
	case m&os.ModeSocket != 0:
		return errors.New("a socket; only regular files are read")
	}
	return errors.New("not a regular file")
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
