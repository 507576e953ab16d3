package enrollfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// Checks and conversions of single columns: hubs and allocation, device
// IDs, webhooks, reprovision policies, booleans and JSON objects.

func (c *Checker) hubs(s string, re *rowErrors) []string {
	if s == "" {
		return nil
	}
	var hubs []string
	seen := map[string]bool{}
	for _, h := range strings.Split(s, ";") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if err := validateHostName(h); err != nil {
			re.addErr(IoTHubs, err)
			continue
		}
		k := strings.ToLower(h)
		if seen[k] {
			re.add(IoTHubs, "%s is listed twice", h)
			continue
		}
		seen[k] = true
		hubs = append(hubs, h)
	}
	return hubs
}

func validateHostName(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("%q is longer than a host name can be", h)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			if c == ',' {
				return fmt.Errorf("%q: separate hubs with ';'", h)
			}
			return fmt.Errorf("%q is not a host name (it has %q)", h, rune(c))
		}
	}
	if h[0] == '.' || h[0] == '-' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return fmt.Errorf("%q is not a host name", h)
	}
	return nil
}

func (c *Checker) allocation(e *model.EnrollmentCommon, r *Record, re *rowErrors, hubs int) {
	s := r.Values[AllocationPolicy]
	url, ver := r.Values[WebhookURL], r.Values[WebhookAPIVersion]
	if s != "" {
		for _, p := range []string{model.AllocationHashed, model.AllocationGeoLatency, model.AllocationStatic, model.AllocationCustom} {
			if strings.EqualFold(s, p) {
				e.AllocationPolicy = p
			}
		}
		if e.AllocationPolicy == "" {
			re.add(AllocationPolicy, "%q is not an allocation policy; use hashed, geoLatency, static or custom", s)
			return
		}
	}
	switch e.AllocationPolicy {
	case model.AllocationStatic:
		if hubs != 1 {
			re.add(AllocationPolicy, "static allocation needs exactly one hub in iotHubs; the row lists %d", hubs)
		}
	case model.AllocationCustom:
		if url == "" {
			re.add(WebhookURL, "required for custom allocation")
		} else if err := validateWebhook(url); err != nil {
			re.addErr(WebhookURL, err)
		}
		if ver == "" {
			ver = DefaultWebhookAPIVersion
		}
		e.CustomAllocationDefinition = &model.CustomAllocationDefinition{WebhookURL: url, APIVersion: ver}
		return
	}
	if url != "" {
		re.add(WebhookURL, "only custom allocation takes a webhook (allocationPolicy is %q)", e.AllocationPolicy)
	}
	if ver != "" {
		re.add(WebhookAPIVersion, "only custom allocation takes a webhook (allocationPolicy is %q)", e.AllocationPolicy)
	}
}

func validateWebhook(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// validateDeviceID applies the IoT Hub device ID rules.
func validateDeviceID(id string) error {
	if len(id) > model.MaxIDLength {
		return fmt.Errorf("%d characters long; the limit is %d", len(id), model.MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.%_*?!(),:=@$'", c) >= 0
		if !ok {
			return fmt.Errorf("%q has the character %q, which IoT Hub does not allow in device IDs", id, rune(c))
		}
	}
	return nil
}

// KeepHubMigrateData names the reprovision policy that keeps the hub but
// migrates data (updateHubAssignment false, migrateDeviceData true), which
// has no CLI flag value.
const KeepHubMigrateData = "keep-hub-migrate-data"

// ParseReprovisionPolicy accepts the CLI names (reprovision-and-migrate,
// reprovision-and-reset, never), the az names (reprovisionandmigratedata,
// reprovisionandresetdata) and keep-hub-migrate-data, in any case.
func ParseReprovisionPolicy(s string) (*model.ReprovisionPolicy, error) {
	switch strings.ToLower(s) {
	case model.ReprovisionAndMigrate, "reprovisionandmigratedata":
		return &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: true}, nil
	case model.ReprovisionAndReset, "reprovisionandresetdata":
		return &model.ReprovisionPolicy{UpdateHubAssignment: true, MigrateDeviceData: false}, nil
	case model.ReprovisionNever:
		return &model.ReprovisionPolicy{}, nil
	case KeepHubMigrateData:
		return &model.ReprovisionPolicy{MigrateDeviceData: true}, nil
	}
	return nil, fmt.Errorf("%q is not a reprovision policy; use %s, %s or %s", s, model.ReprovisionAndMigrate, model.ReprovisionAndReset, model.ReprovisionNever)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "1", "y":
		return true, true
	case "false", "no", "0", "n":
		return false, true
	}
	return false, false
}

// jsonObject checks a JSON object column and returns it compacted.
func jsonObject(s string) (json.RawMessage, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") {
		return nil, errors.New("want a JSON object ({…})")
	}
	if !json.Valid([]byte(t)) {
		var v any
		err := json.Unmarshal([]byte(t), &v)
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(t)); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}
