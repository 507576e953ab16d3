package enroll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// DefaultWebhookAPIVersion is used for custom allocation when
// --webhook-api-version is not given.
const DefaultWebhookAPIVersion = "2019-03-31"

// Names of the flags both bundles have.
const (
	FlagAttestation           = "attestation"
	FlagCertificate           = "certificate"
	FlagSecondaryCertificate  = "secondary-certificate"
	FlagPrimaryKey            = "primary-key"
	FlagSecondaryKey          = "secondary-key"
	FlagIoTHubs               = "iot-hubs"
	FlagAddIoTHub             = "add-iot-hub"
	FlagRemoveIoTHub          = "remove-iot-hub"
	FlagAllocationPolicy      = "allocation-policy"
	FlagWebhookURL            = "webhook-url"
	FlagWebhookAPIVersion     = "webhook-api-version"
	FlagProvisioningStatus    = "provisioning-status"
	FlagReprovisionPolicy     = "reprovision-policy"
	FlagEdge                  = "edge"
	FlagInitialTwinTags       = "initial-twin-tags"
	FlagInitialTwinProperties = "initial-twin-properties"
	FlagFromFile              = "from-file"
)

// bundle lists the flag names of Flags.
var bundle = []string{
	FlagAttestation, FlagCertificate, FlagSecondaryCertificate, FlagPrimaryKey, FlagSecondaryKey,
	FlagIoTHubs, FlagAddIoTHub, FlagRemoveIoTHub, FlagAllocationPolicy, FlagWebhookURL, FlagWebhookAPIVersion,
	FlagProvisioningStatus, FlagReprovisionPolicy, FlagEdge, FlagInitialTwinTags, FlagInitialTwinProperties,
}

// Flags is the part of the create and update flag bundle that enrollments
// and groups share. A noun's bundle embeds it and adds its own flags (and
// --from-file, whose value it keeps). Only flags given on the command line
// change anything.
type Flags struct {
	Attestation           string
	Certificate           string
	SecondaryCertificate  string
	PrimaryKey            string
	SecondaryKey          string
	IoTHubs               []string
	AddIoTHubs            []string
	RemoveIoTHubs         []string
	AllocationPolicy      string
	WebhookURL            string
	WebhookAPIVersion     string
	ProvisioningStatus    string
	ReprovisionPolicy     string
	Edge                  bool
	InitialTwinTags       string
	InitialTwinProperties string

	// Changed names the flags given, filled by Capture.
	Changed map[string]bool
}

// Help is the help text of the flags whose meaning a noun words its own
// way.
type Help struct {
	// Attestations are the --attestation choices, in CLI spelling.
	Attestations []string

	Attestation, Certificate, SecondaryCertificate string
	PrimaryKey, SecondaryKey                       string
	IoTHubs, ReprovisionPolicy, Edge, FromFile     string
}

// Register defines the shared flags on cmd, and --from-file into fromFile;
// update adds --add-iot-hub/--remove-iot-hub.
func (fl *Flags) Register(cmd *cobra.Command, update bool, fromFile *string, h Help) {
	fs := cmd.Flags()
	cmdutil.StringEnumFlagAliases(fs, cmd, &fl.Attestation, FlagAttestation, "", "", h.Attestations,
		map[string]string{model.AttestationSymmetricKey: "symmetric-key"}, h.Attestation)
	fs.StringVar(&fl.Certificate, FlagCertificate, "", h.Certificate)
	fs.StringVar(&fl.SecondaryCertificate, FlagSecondaryCertificate, "", h.SecondaryCertificate)
	fs.StringVar(&fl.PrimaryKey, FlagPrimaryKey, "", h.PrimaryKey)
	fs.StringVar(&fl.SecondaryKey, FlagSecondaryKey, "", h.SecondaryKey)
	fs.StringSliceVar(&fl.IoTHubs, FlagIoTHubs, nil, h.IoTHubs)
	if update {
		fs.StringSliceVar(&fl.AddIoTHubs, FlagAddIoTHub, nil, "Add IoT hub host names (repeatable, comma-separated)")
		fs.StringSliceVar(&fl.RemoveIoTHubs, FlagRemoveIoTHub, nil, "Remove IoT hub host names (repeatable, comma-separated)")
	}
	cmdutil.StringEnumFlagAliases(fs, cmd, &fl.AllocationPolicy, FlagAllocationPolicy, "", "",
		[]string{model.AllocationHashed, model.AllocationGeoLatency, model.AllocationStatic, model.AllocationCustom}, nil, "Allocation policy")
	fs.StringVar(&fl.WebhookURL, FlagWebhookURL, "", "Custom allocation webhook URL (with --allocation-policy custom)")
	fs.StringVar(&fl.WebhookAPIVersion, FlagWebhookAPIVersion, "", "API version the custom allocation webhook speaks (default "+DefaultWebhookAPIVersion+")")
	cmdutil.StringEnumFlagAliases(fs, cmd, &fl.ProvisioningStatus, FlagProvisioningStatus, "", "",
		[]string{model.StatusEnabled, model.StatusDisabled}, nil, "Provisioning status")
	cmdutil.StringEnumFlagAliases(fs, cmd, &fl.ReprovisionPolicy, FlagReprovisionPolicy, "", "",
		[]string{model.ReprovisionAndMigrate, model.ReprovisionAndReset, model.ReprovisionNever},
		map[string]string{"reprovisionandmigratedata": model.ReprovisionAndMigrate, "reprovisionandresetdata": model.ReprovisionAndReset},
		h.ReprovisionPolicy)
	fs.BoolVar(&fl.Edge, FlagEdge, false, h.Edge)
	fs.StringVar(&fl.InitialTwinTags, FlagInitialTwinTags, "", "Initial twin tags, a JSON object (\"\" clears)")
	fs.StringVar(&fl.InitialTwinProperties, FlagInitialTwinProperties, "", "Initial twin desired properties, a JSON object (\"\" clears)")
	fs.StringVar(fromFile, FlagFromFile, "", h.FromFile)
	cmdutil.FileFlag(cmd, FlagCertificate, "pem", "cer", "crt", "der")
	cmdutil.FileFlag(cmd, FlagSecondaryCertificate, "pem", "cer", "crt", "der")
	cmdutil.FileFlag(cmd, FlagFromFile, "json")
	for _, name := range []string{FlagPrimaryKey, FlagSecondaryKey, FlagIoTHubs, FlagAddIoTHub, FlagRemoveIoTHub, FlagWebhookURL, FlagWebhookAPIVersion, FlagInitialTwinTags, FlagInitialTwinProperties} {
		if fs.Lookup(name) != nil {
			_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
		}
	}
}

// Capture records which of the shared flags, --from-file and the noun's
// own flags were given. Call it first in RunE.
func (fl *Flags) Capture(cmd *cobra.Command, own ...string) {
	fl.Changed = map[string]bool{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed && (slices.Contains(bundle, f.Name) || f.Name == FlagFromFile || slices.Contains(own, f.Name)) {
			fl.Changed[f.Name] = true
		}
	})
}

// Given reports whether a flag was on the command line.
func (fl *Flags) Given(name string) bool { return fl.Changed[name] }

// Validate checks ValidateValues, then ValidateHubs.
func (fl *Flags) Validate() error {
	if err := fl.ValidateValues(); err != nil {
		return err
	}
	return fl.ValidateHubs()
}

// ValidateValues checks the keys and the twin JSON given, needing no I/O;
// it returns a usage error.
func (fl *Flags) ValidateValues() error {
	for _, k := range []struct{ name, v string }{{FlagPrimaryKey, fl.PrimaryKey}, {FlagSecondaryKey, fl.SecondaryKey}} {
		if fl.Given(k.name) && k.v != "" {
			if err := model.ValidateSymmetricKey(k.v); err != nil {
				return cmdutil.FlagErrorf("--%s: %v", k.name, err)
			}
		}
	}
	for _, j := range []struct{ name, v string }{{FlagInitialTwinTags, fl.InitialTwinTags}, {FlagInitialTwinProperties, fl.InitialTwinProperties}} {
		if fl.Given(j.name) {
			if _, err := jsonObject(j.v); err != nil {
				return cmdutil.FlagErrorf("--%s is not valid JSON: %v", j.name, err)
			}
		}
	}
	return nil
}

// ValidateHubs refuses --iot-hubs combined with --add-iot-hub or
// --remove-iot-hub.
func (fl *Flags) ValidateHubs() error {
	if fl.Given(FlagIoTHubs) && (fl.Given(FlagAddIoTHub) || fl.Given(FlagRemoveIoTHub)) {
		return cmdutil.FlagErrorf("--%s replaces the list; do not combine it with --%s or --%s", FlagIoTHubs, FlagAddIoTHub, FlagRemoveIoTHub)
	}
	return nil
}

// jsonObject parses a JSON object flag; "" means none (clear).
func jsonObject(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("want a JSON object, not null")
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(strings.TrimSpace(s))); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

// ApplyFields changes the fields of e that the shared flags other than
// the attestation ones name: IoT hubs, allocation, webhook, status,
// reprovision policy, edge and initial twin.
func (fl *Flags) ApplyFields(e model.Enrollable) error {
	c := e.Common()
	if fl.Given(FlagIoTHubs) {
		c.IoTHubs = nonEmpty(fl.IoTHubs)
	}
	for _, h := range nonEmpty(fl.AddIoTHubs) {
		if !slices.ContainsFunc(c.IoTHubs, func(x string) bool { return strings.EqualFold(x, h) }) {
			c.IoTHubs = append(c.IoTHubs, h)
		}
	}
	for _, h := range nonEmpty(fl.RemoveIoTHubs) {
		i := slices.IndexFunc(c.IoTHubs, func(x string) bool { return strings.EqualFold(x, h) })
		if i < 0 {
			return fmt.Errorf("--%s %s: the %s does not list that hub (it lists %s)", FlagRemoveIoTHub, h, command(e.Kind()), hubList(c.IoTHubs))
		}
		c.IoTHubs = slices.Delete(c.IoTHubs, i, i+1)
	}
	if len(c.IoTHubs) == 0 {
		c.IoTHubs = nil
	}
	if fl.Given(FlagAllocationPolicy) {
		c.AllocationPolicy = fl.AllocationPolicy
	}
	if err := fl.applyWebhook(c); err != nil {
		return err
	}
	if fl.Given(FlagProvisioningStatus) {
		c.ProvisioningStatus = fl.ProvisioningStatus
	}
	if fl.Given(FlagReprovisionPolicy) {
		p, err := model.ReprovisionPolicyFromName(fl.ReprovisionPolicy)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		c.ReprovisionPolicy = p
	}
	if fl.Given(FlagEdge) {
		c.Capabilities = &model.DeviceCapabilities{IoTEdge: fl.Edge}
	}
	return fl.applyTwin(c)
}

func (fl *Flags) applyTwin(c *model.EnrollmentCommon) error {
	if !fl.Given(FlagInitialTwinTags) && !fl.Given(FlagInitialTwinProperties) {
		return nil
	}
	if c.InitialTwin == nil {
		c.InitialTwin = &model.InitialTwin{}
	}
	twin := c.InitialTwin
	if fl.Given(FlagInitialTwinTags) {
		raw, err := jsonObject(fl.InitialTwinTags)
		if err != nil {
			return cmdutil.FlagErrorf("--%s is not valid JSON: %v", FlagInitialTwinTags, err)
		}
		twin.Tags = raw
	}
	if fl.Given(FlagInitialTwinProperties) {
		raw, err := jsonObject(fl.InitialTwinProperties)
		if err != nil {
			return cmdutil.FlagErrorf("--%s is not valid JSON: %v", FlagInitialTwinProperties, err)
		}
		if raw == nil {
			twin.Properties = nil
		} else {
			twin.Properties = &model.InitialTwinProperties{Desired: raw}
		}
	}
	if twin.Tags == nil && twin.Properties == nil {
		c.InitialTwin = nil
	}
	return nil
}

func hubList(hubs []string) string {
	if len(hubs) == 0 {
		return "none"
	}
	return strings.Join(hubs, ", ")
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (fl *Flags) applyWebhook(c *model.EnrollmentCommon) error {
	webhook := fl.Given(FlagWebhookURL) || fl.Given(FlagWebhookAPIVersion)
	if c.AllocationPolicy != model.AllocationCustom {
		if webhook {
			return cmdutil.FlagErrorf("--%s and --%s need --%s custom", FlagWebhookURL, FlagWebhookAPIVersion, FlagAllocationPolicy)
		}
		c.CustomAllocationDefinition = nil
		return nil
	}
	d := c.CustomAllocationDefinition
	if d == nil {
		d = &model.CustomAllocationDefinition{}
	}
	if fl.Given(FlagWebhookURL) {
		d.WebhookURL = fl.WebhookURL
	}
	if fl.Given(FlagWebhookAPIVersion) {
		d.APIVersion = fl.WebhookAPIVersion
	}
	if d.WebhookURL == "" {
		return cmdutil.FlagErrorf("--%s custom needs --%s", FlagAllocationPolicy, FlagWebhookURL)
	}
	if d.APIVersion == "" {
		d.APIVersion = DefaultWebhookAPIVersion
	}
	c.CustomAllocationDefinition = d
	return nil
}

// TypeFlags names the attestation flags of a noun that belong to one
// attestation type.
type TypeFlags struct {
	Type  string // wire type
	Flags []string
}

// Mechanism returns the attestation mechanism the flags are to fill in:
// the current one of e if its type stays, else a new one. The type is that
// of --attestation, else the one the attestation flags given imply (types
// says which flags belong to which type), else the current one. missing is
// the error when there is none at all and mixed the one when flags of two
// types are given; with update set the type may not change.
func (fl *Flags) Mechanism(e model.Enrollable, update bool, types []TypeFlags, missing, mixed error) (*model.AttestationMechanism, error) {
	want, err := fl.wantedType(types, mixed)
	if err != nil {
		return nil, err
	}
	a := e.Common().Attestation
	current := AttestationType(a)
	switch {
	case want == "" && current == "":
		return nil, missing
	case want == "":
		want = current
	case current != "" && want != current && update:
		return nil, cmdutil.FlagErrorf("the %s uses %s attestation; it cannot change to %s (delete it and create it again)", command(e.Kind()), cliName(current), cliName(want))
	}
	// Flags of another mechanism are mistakes.
	for _, t := range types {
		for _, name := range t.Flags {
			if fl.Given(name) && t.Type != want {
				return nil, cmdutil.FlagErrorf("--%s does not apply to %s attestation", name, cliName(want))
			}
		}
	}
	if a == nil || a.Type != want {
		a = &model.AttestationMechanism{Type: want}
	}
	return a, nil
}

// wantedType returns the attestation type the flags ask for: --attestation,
// else the one implied by the attestation flags given, else "".
func (fl *Flags) wantedType(types []TypeFlags, mixed error) (string, error) {
	if fl.Given(FlagAttestation) {
		return attestationWire[fl.Attestation], nil
	}
	var implied []string
	for _, t := range types {
		if slices.ContainsFunc(t.Flags, fl.Given) {
			implied = append(implied, t.Type)
		}
	}
	switch len(implied) {
	case 0:
		return "", nil
	case 1:
		return implied[0], nil
	}
	return "", mixed
}

// ApplySymmetricKey sets the keys given on a, keeping the others, and
// checks both: a key exported masked cannot be sent back.
func (fl *Flags) ApplySymmetricKey(a *model.AttestationMechanism) error {
	if a.SymmetricKey == nil {
		a.SymmetricKey = &model.SymmetricKeyAttestation{}
	}
	if fl.Given(FlagPrimaryKey) {
		a.SymmetricKey.PrimaryKey = fl.PrimaryKey
	}
	if fl.Given(FlagSecondaryKey) {
		a.SymmetricKey.SecondaryKey = fl.SecondaryKey
	}
	for _, k := range []struct{ name, v string }{{"primary", a.SymmetricKey.PrimaryKey}, {"secondary", a.SymmetricKey.SecondaryKey}} {
		if k.v == output.Masked {
			return fmt.Errorf("the %s key is masked (%s); export with --show-keys, give --%s-key, or drop it to have the service generate one", k.name, output.Masked, k.name)
		}
		if k.v != "" {
			if err := model.ValidateSymmetricKey(k.v); err != nil {
				return fmt.Errorf("%s key: %w", k.name, err)
			}
		}
	}
	return nil
}

// ReadCertificate reads the certificate file of a flag and returns it as
// the service takes it: the first certificate of the file, in PEM.
func ReadCertificate(flag, path string) (*model.X509CertificateWithInfo, error) {
	cs, err := certs.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("--%s: %s holds no certificate", flag, path)
	}
	return &model.X509CertificateWithInfo{Certificate: certs.EncodePEM(cs[0])}, nil
}
