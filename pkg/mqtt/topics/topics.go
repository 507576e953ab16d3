// Package topics parses and formats the MQTT topics and CONNECT user names
// of the Device Provisioning Service and of IoT Hub, as the official device
// SDKs put them on the wire: the DPS register and operation-status requests
// and their answers, IoT Hub telemetry and cloud-to-device messages with
// their property bags, twin requests, answers and desired-property
// notifications, and direct-method requests and answers.
//
// Everything here is untrusted input on the service side: every parser
// bounds what it accepts and says what was wrong and where.
package topics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of what the parsers accept.
const (
	// MaxTopicLength bounds a topic name and a CONNECT user name.
	MaxTopicLength = 8 * 1024
	// MaxProperties bounds the pairs of a property bag or query.
	MaxProperties = 128
	// MaxIDLength bounds a device, module or registration ID, an ID scope,
	// a hub host name, a method name, a $rid and an operation ID.
	MaxIDLength = 256
)

// Kind says what a topic is for.
type Kind int

// The topics of DPS and IoT Hub.
const (
	Unknown Kind = iota
	// DPSRegister: $dps/registrations/PUT/iotdps-register/?$rid={rid}
	DPSRegister
	// DPSOperationStatus: $dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={id}
	DPSOperationStatus
	// DPSResponse: $dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]
	DPSResponse
	// Telemetry: devices/{id}/messages/events/[{propertyBag}]
	Telemetry
	// CloudToDevice: devices/{id}/messages/devicebound/[{propertyBag}]
	CloudToDevice
	// TwinGet: $iothub/twin/GET/?$rid={rid}
	TwinGet
	// TwinPatchReported: $iothub/twin/PATCH/properties/reported/?$rid={rid}
	TwinPatchReported
	// TwinResponse: $iothub/twin/res/{status}/?$rid={rid}[&$version={v}]
	TwinResponse
	// TwinDesired: $iothub/twin/PATCH/properties/desired/?$version={v}
	TwinDesired
	// MethodRequest: $iothub/methods/POST/{name}/?$rid={rid}
	MethodRequest
	// MethodResponse: $iothub/methods/res/{status}/?$rid={rid}
	MethodResponse
)

var kindNames = [...]string{
	Unknown:            "unknown",
	DPSRegister:        "dps-register",
	DPSOperationStatus: "dps-operation-status",
	DPSResponse:        "dps-response",
	Telemetry:          "telemetry",
	CloudToDevice:      "cloud-to-device",
	TwinGet:            "twin-get",
	TwinPatchReported:  "twin-patch-reported",
	TwinResponse:       "twin-response",
	TwinDesired:        "twin-desired",
	MethodRequest:      "method-request",
	MethodResponse:     "method-response",
}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Subscription filters the devices use.
const (
	DPSResponseFilter  = "$dps/registrations/res/#"
	TwinResponseFilter = "$iothub/twin/res/#"
	TwinDesiredFilter  = "$iothub/twin/PATCH/properties/desired/#"
	MethodFilter       = "$iothub/methods/POST/#"
)

// CloudToDeviceFilter is the subscription of a device to its C2D messages.
func CloudToDeviceFilter(deviceID string) string {
	return "devices/" + deviceID + "/messages/devicebound/#"
}

// Topic is a parsed topic. Only the fields of its Kind are set.
type Topic struct {
	Kind Kind
	// DeviceID of Telemetry and CloudToDevice.
	DeviceID string
	// ModuleID of Telemetry of a module (devices/{id}/modules/{mid}/messages/events/).
	ModuleID string
	// Status of DPSResponse, TwinResponse and MethodResponse.
	Status int
	// RID is the request ID the device chose ($rid), echoed in answers.
	RID string
	// OperationID of DPSOperationStatus.
	OperationID string
	// RetryAfter of DPSResponse in seconds; 0 when absent.
	RetryAfter int
	// Version of TwinResponse and TwinDesired; HasVersion says whether it
	// was present.
	Version    int64
	HasVersion bool
	// Method is the name of a MethodRequest.
	Method string
	// Properties is the property bag of Telemetry and CloudToDevice.
	Properties Bag
}

// Error is a topic, user name or property bag that could not be parsed.
type Error struct {
	What  string // "topic", "user name", "property bag"
	Input string // truncated for the message
	Msg   string
}

func (e *Error) Error() string {
	in := e.Input
	if len(in) > 80 {
		in = in[:80] + "…"
	}
	return fmt.Sprintf("%s %q: %s", e.What, in, e.Msg)
}

func topicErr(topic, format string, a ...any) error {
	return &Error{What: "topic", Input: topic, Msg: fmt.Sprintf(format, a...)}
}

// ErrUnknownTopic is wrapped by Parse for a topic that is none of DPS's or
// IoT Hub's.
var ErrUnknownTopic = errors.New("not a DPS or IoT Hub topic")

// Parse parses a topic name a device publishes or the service sends.
func Parse(topic string) (Topic, error) {
	if len(topic) > MaxTopicLength {
		return Topic{}, topicErr(topic, "longer than %d bytes", MaxTopicLength)
	}
	switch {
	case strings.HasPrefix(topic, "$dps/registrations/"):
		return parseDPS(topic, topic[len("$dps/registrations/"):])
	case strings.HasPrefix(topic, "$iothub/"):
		return parseIoTHub(topic, topic[len("$iothub/"):])
	case strings.HasPrefix(topic, "devices/"):
		return parseDevices(topic, topic[len("devices/"):])
	}
	return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
}

// cutQuery splits "{path}/?{query}" and parses the query. A path with no
// "/?" is an error: every request and answer topic has one.
func cutQuery(topic, rest string) (string, Bag, error) {
	path, q, ok := strings.Cut(rest, "/?")
	if !ok {
		return "", nil, topicErr(topic, "no \"/?\" before the query")
	}
	bag, err := ParseBag(q)
	if err != nil {
		return "", nil, topicErr(topic, "query: %v", err)
	}
	return path, bag, nil
}

func parseDPS(topic, rest string) (Topic, error) {
	path, q, err := cutQuery(topic, rest)
	if err != nil {
		return Topic{}, err
	}
	var t Topic
	switch {
	case path == "PUT/iotdps-register":
		t.Kind = DPSRegister
	case path == "GET/iotdps-get-operationstatus":
		t.Kind = DPSOperationStatus
		op, ok := q.Get("operationId")
		if !ok || op == "" {
			return Topic{}, topicErr(topic, "operationId is missing")
		}
		if err := checkID("operationId", op); err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.OperationID = op
	case strings.HasPrefix(path, "res/"):
		t.Kind = DPSResponse
		st, err := parseStatus(path[len("res/"):])
		if err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.Status = st
		if ra, ok := q.Get("retry-after"); ok {
			n, err := strconv.Atoi(ra)
			if err != nil || n < 0 || n > 24*3600 {
				return Topic{}, topicErr(topic, "retry-after %q is not a number of seconds", ra)
			}
			t.RetryAfter = n
		}
	default:
		return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
	}
	if err := needRID(topic, q, &t); err != nil {
		return Topic{}, err
	}
	return t, nil
}

func parseIoTHub(topic, rest string) (Topic, error) {
	path, q, err := cutQuery(topic, rest)
	if err != nil {
		return Topic{}, err
	}
	var t Topic
	switch {
	case path == "twin/GET":
		t.Kind = TwinGet
	case path == "twin/PATCH/properties/reported":
		t.Kind = TwinPatchReported
	case path == "twin/PATCH/properties/desired":
		t.Kind = TwinDesired
		if err := needVersion(topic, q, &t); err != nil {
			return Topic{}, err
		}
		return t, nil
	case strings.HasPrefix(path, "twin/res/"):
		t.Kind = TwinResponse
		st, err := parseStatus(path[len("twin/res/"):])
		if err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.Status = st
		if _, ok := q.Get("$version"); ok {
			if err := needVersion(topic, q, &t); err != nil {
				return Topic{}, err
			}
		}
	case strings.HasPrefix(path, "methods/POST/"):
		t.Kind = MethodRequest
		name := path[len("methods/POST/"):]
		if name == "" || strings.Contains(name, "/") {
			return Topic{}, topicErr(topic, "method name %q is not one path element", name)
		}
		if err := checkID("method name", name); err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.Method = name
	case strings.HasPrefix(path, "methods/res/"):
		t.Kind = MethodResponse
		st, err := parseStatus(path[len("methods/res/"):])
		if err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.Status = st
	default:
		return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
	}
	if err := needRID(topic, q, &t); err != nil {
		return Topic{}, err
	}
	return t, nil
}

func parseDevices(topic, rest string) (Topic, error) {
	id, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
	}
	var t Topic
	if err := checkID("device ID", id); err != nil {
		return Topic{}, topicErr(topic, "%v", err)
	}
	t.DeviceID = id
	if m, ok := strings.CutPrefix(rest, "modules/"); ok {
		mid, r, ok := strings.Cut(m, "/")
		if !ok {
			return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
		}
		if err := checkID("module ID", mid); err != nil {
			return Topic{}, topicErr(topic, "%v", err)
		}
		t.ModuleID, rest = mid, r
	}
	var bag string
	switch {
	case rest == "messages/events" || strings.HasPrefix(rest, "messages/events/"):
		t.Kind, bag = Telemetry, strings.TrimPrefix(rest, "messages/events")
	case t.ModuleID == "" && (rest == "messages/devicebound" || strings.HasPrefix(rest, "messages/devicebound/")):
		t.Kind, bag = CloudToDevice, strings.TrimPrefix(rest, "messages/devicebound")
	default:
		return Topic{}, &Error{What: "topic", Input: topic, Msg: ErrUnknownTopic.Error()}
	}
	bag = strings.TrimPrefix(bag, "/")
	// Some SDKs end the bag with a slash; a bag never holds a raw one.
	bag = strings.TrimSuffix(bag, "/")
	props, err := ParseBag(bag)
	if err != nil {
		return Topic{}, topicErr(topic, "property bag: %v", err)
	}
	t.Properties = props
	return t, nil
}

func needRID(topic string, q Bag, t *Topic) error {
	rid, ok := q.Get("$rid")
	if !ok || rid == "" {
		return topicErr(topic, "$rid is missing")
	}
	if err := checkID("$rid", rid); err != nil {
		return topicErr(topic, "%v", err)
	}
	t.RID = rid
	return nil
}

func needVersion(topic string, q Bag, t *Topic) error {
	v, ok := q.Get("$version")
	if !ok {
		return topicErr(topic, "$version is missing")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return topicErr(topic, "$version %q is not a non-negative integer", v)
	}
	t.Version, t.HasVersion = n, true
	return nil
}

func parseStatus(s string) (int, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("status %q is not a three-digit code", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("status %q is not a three-digit code", s)
	}
	return n, nil
}

// checkID bounds an identifier from a topic or a user name: not empty, not
// too long, no control characters and none of the MQTT wildcards.
func checkID(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > MaxIDLength {
		return fmt.Errorf("%s is longer than %d bytes", what, MaxIDLength)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%s has a control character at byte %d", what, i)
		case c == '+' || c == '#':
			return fmt.Errorf("%s has the wildcard %q at byte %d", what, c, i)
		}
	}
	return nil
}

// String formats the topic; it is the inverse of Parse for the topics the
// service and the device send. Property bags are written in their order.
func (t Topic) String() string {
	var b strings.Builder
	q := func(first bool, k, v string) {
		if first {
			b.WriteString("/?")
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(escape(v))
	}
	switch t.Kind {
	case DPSRegister:
		b.WriteString("$dps/registrations/PUT/iotdps-register")
		q(true, "$rid", t.RID)
	case DPSOperationStatus:
		b.WriteString("$dps/registrations/GET/iotdps-get-operationstatus")
		q(true, "$rid", t.RID)
		q(false, "operationId", t.OperationID)
	case DPSResponse:
		b.WriteString("$dps/registrations/res/")
		b.WriteString(strconv.Itoa(t.Status))
		q(true, "$rid", t.RID)
		if t.RetryAfter > 0 {
			q(false, "retry-after", strconv.Itoa(t.RetryAfter))
		}
	case Telemetry, CloudToDevice:
		b.WriteString("devices/")
		b.WriteString(t.DeviceID)
		if t.ModuleID != "" {
			b.WriteString("/modules/")
			b.WriteString(t.ModuleID)
		}
		if t.Kind == Telemetry {
			b.WriteString("/messages/events/")
		} else {
			b.WriteString("/messages/devicebound/")
		}
		b.WriteString(t.Properties.String())
	case TwinGet:
		b.WriteString("$iothub/twin/GET")
		q(true, "$rid", t.RID)
	case TwinPatchReported:
		b.WriteString("$iothub/twin/PATCH/properties/reported")
		q(true, "$rid", t.RID)
	case TwinResponse:
		b.WriteString("$iothub/twin/res/")
		b.WriteString(strconv.Itoa(t.Status))
		q(true, "$rid", t.RID)
		if t.HasVersion {
			q(false, "$version", strconv.FormatInt(t.Version, 10))
		}
	case TwinDesired:
		b.WriteString("$iothub/twin/PATCH/properties/desired")
		q(true, "$version", strconv.FormatInt(t.Version, 10))
	case MethodRequest:
		b.WriteString("$iothub/methods/POST/")
		b.WriteString(t.Method)
		q(true, "$rid", t.RID)
	case MethodResponse:
		b.WriteString("$iothub/methods/res/")
		b.WriteString(strconv.Itoa(t.Status))
		q(true, "$rid", t.RID)
	default:
		return ""
	}
	return b.String()
}
