package topics

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		topic string
		want  Topic
	}{
		{"$dps/registrations/PUT/iotdps-register/?$rid=1", Topic{Kind: DPSRegister, RID: "1"}},
		{"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.abc.0", Topic{Kind: DPSOperationStatus, RID: "2", OperationID: "4.abc.0"}},
		{"$dps/registrations/res/202/?$rid=3&retry-after=3", Topic{Kind: DPSResponse, Status: 202, RID: "3", RetryAfter: 3}},
		{"$dps/registrations/res/200/?$rid=3", Topic{Kind: DPSResponse, Status: 200, RID: "3"}},
		{"devices/dev-1/messages/events/", Topic{Kind: Telemetry, DeviceID: "dev-1"}},
		{"devices/dev-1/messages/events", Topic{Kind: Telemetry, DeviceID: "dev-1"}},
		{"devices/dev-1/messages/events/$.mid=m1&$.ct=application%2Fjson&$.ce=utf-8&temp%20alert=high%26low", Topic{
			Kind: Telemetry, DeviceID: "dev-1",
			Properties: Bag{{"$.mid", "m1"}, {"$.ct", "application/json"}, {"$.ce", "utf-8"}, {"temp alert", "high&low"}},
		}},
		{"devices/dev-1/messages/events/a=1/", Topic{Kind: Telemetry, DeviceID: "dev-1", Properties: Bag{{"a", "1"}}}},
		{"devices/dev-1/modules/m1/messages/events/", Topic{Kind: Telemetry, DeviceID: "dev-1", ModuleID: "m1"}},
		{"devices/dev-1/messages/devicebound/$.mid=9&$.to=%2Fdevices%2Fdev-1%2Fmessages%2FdeviceBound&k=v", Topic{
			Kind: CloudToDevice, DeviceID: "dev-1",
			Properties: Bag{{"$.mid", "9"}, {"$.to", "/devices/dev-1/messages/deviceBound"}, {"k", "v"}},
		}},
		{"$iothub/twin/GET/?$rid=10", Topic{Kind: TwinGet, RID: "10"}},
		{"$iothub/twin/PATCH/properties/reported/?$rid=11", Topic{Kind: TwinPatchReported, RID: "11"}},
		{"$iothub/twin/res/200/?$rid=10", Topic{Kind: TwinResponse, Status: 200, RID: "10"}},
		{"$iothub/twin/res/204/?$rid=11&$version=5", Topic{Kind: TwinResponse, Status: 204, RID: "11", Version: 5, HasVersion: true}},
		{"$iothub/twin/PATCH/properties/desired/?$version=7", Topic{Kind: TwinDesired, Version: 7, HasVersion: true}},
		{"$iothub/methods/POST/reboot/?$rid=ab", Topic{Kind: MethodRequest, Method: "reboot", RID: "ab"}},
		{"$iothub/methods/res/200/?$rid=ab", Topic{Kind: MethodResponse, Status: 200, RID: "ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got, err := Parse(tt.topic)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(%q) of String: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q:\n got %+v\nwant %+v", got.String(), again, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		topic, want string
	}{
		{"foo/bar", "not a DPS or IoT Hub topic"},
		{"$dps/registrations/PUT/iotdps-register", `no "/?"`},
		{"$dps/registrations/PUT/iotdps-register/?x=1", "$rid is missing"},
		{"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1", "operationId is missing"},
		{"$dps/registrations/res/20/?$rid=1", "three-digit"},
		{"$dps/registrations/res/200/?$rid=1&retry-after=x", "retry-after"},
		{"$dps/registrations/DELETE/x/?$rid=1", "not a DPS or IoT Hub topic"},
		{"$iothub/twin/PATCH/properties/desired/?$rid=1", "$version is missing"},
		{"$iothub/twin/res/204/?$rid=1&$version=-1", "non-negative"},
		{"$iothub/methods/POST/a/b/?$rid=1", "one path element"},
		{"$iothub/methods/POST/a+/?$rid=1", "wildcard"},
		{"$iothub/twin/GET/?$rid=%zz", "percent-encoding"},
		{"$iothub/other/?$rid=1", "not a DPS or IoT Hub topic"},
		{"devices/+/messages/events/", "wildcard"},
		{"devices/d1/messages/other", "not a DPS or IoT Hub topic"},
		{"devices/d1/modules/m1/messages/devicebound/", "not a DPS or IoT Hub topic"},
		{"devices/d1/messages/events/=v", "has no key"},
		{"devices/d\x01/messages/events/", "control character"},
		{"devices/" + strings.Repeat("a", MaxTopicLength), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.topic[:min(len(tt.topic), 60)], func(t *testing.T) {
			_, err := Parse(tt.topic)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error with %q", tt.topic, err, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) || te.What != "topic" {
				t.Fatalf("error %v is not a topic *Error", err)
			}
		})
	}
}

func TestBag(t *testing.T) {
	tests := []struct {
		in       string
		want     Bag
		wantText string // String() of the parsed bag
	}{
		{"", nil, ""},
		{"a=1", Bag{{"a", "1"}}, "a=1"},
		{"a=1&&b=", Bag{{"a", "1"}, {"b", ""}}, "a=1&b="},
		{"flag", Bag{{"flag", ""}}, "flag="},
		{"$.mid=x%2Fy&k+1=v+1", Bag{{"$.mid", "x/y"}, {"k+1", "v+1"}}, "$.mid=x%2Fy&k%2B1=v%2B1"},
		{"%C3%A9=%E2%82%AC", Bag{{"é", "€"}}, "%C3%A9=%E2%82%AC"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBag(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseBag = %#v, want %#v", got, tt.want)
			}
			if s := got.String(); s != tt.wantText {
				t.Fatalf("String = %q, want %q", s, tt.wantText)
			}
		})
	}

	b := Bag{{"$.mid", "1"}, {"app", "x"}, {"$.ct", "text/plain"}, {"app", "y"}}
	if got := b.System(); !reflect.DeepEqual(got, Bag{{"$.mid", "1"}, {"$.ct", "text/plain"}}) {
		t.Errorf("System = %v", got)
	}
	if got := b.Application(); !reflect.DeepEqual(got, Bag{{"app", "x"}, {"app", "y"}}) {
		t.Errorf("Application = %v", got)
	}
	if got := b.Map(); got["app"] != "x" || len(got) != 3 {
		t.Errorf("Map = %v", got)
	}

	if _, err := ParseBag(strings.Repeat("a=1&", MaxProperties+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many properties: %v", err)
	}
}

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in         string
		want       Username
		wantClient string
	}{
		{
			"0ne0000ABCD/registrations/dev-1/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-device%2F1.9.1",
			Username{Service: DPS, IDScope: "0ne0000ABCD", RegistrationID: "dev-1", APIVersion: "2019-03-31",
				Params: Bag{{"api-version", "2019-03-31"}, {"ClientVersion", "azure-iot-provisioning-device/1.9.1"}}},
			"dev-1",
		},
		{
			"hub.azure-devices.net/dev-1/?api-version=2021-04-12&DeviceClientType=c%2F1.0",
			Username{Service: IoTHub, HubHost: "hub.azure-devices.net", DeviceID: "dev-1", APIVersion: "2021-04-12",
				Params: Bag{{"api-version", "2021-04-12"}, {"DeviceClientType", "c/1.0"}}},
			"dev-1",
		},
		{
			"hub.azure-devices.net/dev-1/mod-a/?api-version=2021-04-12",
			Username{Service: IoTHub, HubHost: "hub.azure-devices.net", DeviceID: "dev-1", ModuleID: "mod-a", APIVersion: "2021-04-12",
				Params: Bag{{"api-version", "2021-04-12"}}},
			"dev-1/mod-a",
		},
		{
			"hub.azure-devices.net/dev-1/api-version=2016-11-14",
			Username{Service: IoTHub, HubHost: "hub.azure-devices.net", DeviceID: "dev-1", APIVersion: "2016-11-14",
				Params: Bag{{"api-version", "2016-11-14"}}},
			"dev-1",
		},
		{
			// A device called "registrations" on a hub is not DPS.
			"hub.example/registrations/?api-version=2021-04-12",
			Username{Service: IoTHub, HubHost: "hub.example", DeviceID: "registrations", APIVersion: "2021-04-12",
				Params: Bag{{"api-version", "2021-04-12"}}},
			"registrations",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUsername(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseUsername:\n got %+v\nwant %+v", got, tt.want)
			}
			if c := got.ClientID(); c != tt.wantClient {
				t.Fatalf("ClientID = %q, want %q", c, tt.wantClient)
			}
			again, err := ParseUsername(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseUsernameErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "neither"},
		{"justahost", "neither"},
		{"hub/?api-version=1", "path elements"},
		{"hub/a/b/c/?api-version=1", "path elements"},
		{"scope/registrations//api-version=1", "registration ID is empty"},
		{"/registrations/x/api-version=1", "ID scope is empty"},
		{"hub/dev#/?api-version=1", "wildcard"},
		{"hub/dev/?api-version=%", "percent-encoding"},
		{strings.Repeat("x", MaxTopicLength+1), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 60)], func(t *testing.T) {
			_, err := ParseUsername(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseUsername(%q) = %v, want an error with %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	if got := CloudToDeviceFilter("d1"); got != "devices/d1/messages/devicebound/#" {
		t.Errorf("CloudToDeviceFilter = %q", got)
	}
	if Kind(99).String() != "Kind(99)" || TwinGet.String() != "twin-get" {
		t.Errorf("Kind names: %s %s", Kind(99), TwinGet)
	}
}
