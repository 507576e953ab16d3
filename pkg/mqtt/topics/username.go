package topics

import (
	"fmt"
	"strings"
)

// Service says which service a CONNECT user name addresses.
type Service int

// The two services a device connects to over MQTT.
const (
	DPS Service = iota + 1
	IoTHub
)

func (s Service) String() string {
	switch s {
	case DPS:
		return "dps"
	case IoTHub:
		return "iothub"
	}
	return fmt.Sprintf("Service(%d)", int(s))
}

// Username is a parsed CONNECT user name:
//
//	DPS:     {idScope}/registrations/{registrationId}/api-version={v}&ClientVersion={c}
//	IoT Hub: {hubHostName}/{deviceId}[/{moduleId}]/?api-version={v}[&DeviceClientType=…]
type Username struct {
	Service Service
	// IDScope and RegistrationID of DPS.
	IDScope, RegistrationID string
	// HubHost, DeviceID and ModuleID of IoT Hub.
	HubHost, DeviceID, ModuleID string
	// APIVersion is the api-version pair (may be empty).
	APIVersion string
	// Params are all the query pairs, api-version included.
	Params Bag
}

func usernameErr(s, format string, a ...any) error {
	return &Error{What: "user name", Input: s, Msg: fmt.Sprintf(format, a...)}
}

// ParseUsername parses the user name of a CONNECT packet.
func ParseUsername(s string) (Username, error) {
	if len(s) > MaxTopicLength {
		return Username{}, usernameErr(s, "longer than %d bytes", MaxTopicLength)
	}
	// DPS: exactly "{scope}/registrations/{id}/{query}", the query not
	// starting with "?".
	if parts := strings.SplitN(s, "/", 4); len(parts) == 4 && parts[1] == "registrations" && !strings.HasPrefix(parts[3], "?") {
		u := Username{Service: DPS, IDScope: parts[0], RegistrationID: parts[2]}
		if err := checkID("ID scope", u.IDScope); err != nil {
			return Username{}, usernameErr(s, "%v", err)
		}
		if err := checkID("registration ID", u.RegistrationID); err != nil {
			return Username{}, usernameErr(s, "%v", err)
		}
		if err := u.setParams(s, parts[3]); err != nil {
			return Username{}, err
		}
		return u, nil
	}
	// IoT Hub: "{host}/{device}[/{module}]/?{query}"; old SDKs leave out the "?".
	path, query, ok := strings.Cut(s, "/?")
	if !ok {
		i := strings.LastIndex(s, "/")
		if i < 0 || !strings.Contains(s[i+1:], "=") {
			return Username{}, usernameErr(s, "neither {idScope}/registrations/{registrationId}/api-version=… nor {hubHostName}/{deviceId}/?api-version=…")
		}
		path, query = s[:i], s[i+1:]
	}
	parts := strings.Split(path, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Username{}, usernameErr(s, "want {hubHostName}/{deviceId}[/{moduleId}] before the query, got %d path elements", len(parts))
	}
	u := Username{Service: IoTHub, HubHost: parts[0], DeviceID: parts[1]}
	if len(parts) == 3 {
		u.ModuleID = parts[2]
		if err := checkID("module ID", u.ModuleID); err != nil {
			return Username{}, usernameErr(s, "%v", err)
		}
	}
	if err := checkID("hub host name", u.HubHost); err != nil {
		return Username{}, usernameErr(s, "%v", err)
	}
	if err := checkID("device ID", u.DeviceID); err != nil {
		return Username{}, usernameErr(s, "%v", err)
	}
	if err := u.setParams(s, query); err != nil {
		return Username{}, err
	}
	return u, nil
}

func (u *Username) setParams(s, query string) error {
	bag, err := ParseBag(query)
	if err != nil {
		return usernameErr(s, "query: %v", err)
	}
	u.Params = bag
	u.APIVersion, _ = bag.Get("api-version")
	return nil
}

// ClientID is the CONNECT client ID that goes with the user name: the
// registration ID for DPS, the device ID (or "{deviceId}/{moduleId}") for
// IoT Hub.
func (u Username) ClientID() string {
	switch {
	case u.Service == DPS:
		return u.RegistrationID
	case u.ModuleID != "":
		return u.DeviceID + "/" + u.ModuleID
	}
	return u.DeviceID
}

// String formats the user name. Params are written in their order; when
// APIVersion is set and Params has no api-version, it comes first.
func (u Username) String() string {
	params := u.Params
	if _, ok := params.Get("api-version"); !ok && u.APIVersion != "" {
		params = append(Bag{{Key: "api-version", Value: u.APIVersion}}, params...)
	}
	switch u.Service {
	case DPS:
		return u.IDScope + "/registrations/" + u.RegistrationID + "/" + params.String()
	case IoTHub:
		s := u.HubHost + "/" + u.DeviceID
		if u.ModuleID != "" {
			s += "/" + u.ModuleID
		}
		return s + "/?" + params.String()
	}
	return ""
}
