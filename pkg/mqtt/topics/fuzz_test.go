package topics

import (
	"reflect"
	"testing"
)

// FuzzParseTopic: Parse never panics, and a parsed topic formats to a topic
// that parses to the same value.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"$dps/registrations/PUT/iotdps-register/?$rid=1",
		"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=op",
		"$dps/registrations/res/202/?$rid=3&retry-after=3",
		"devices/d/messages/events/$.mid=1&a=b%20c",
		"devices/d/modules/m/messages/events/",
		"devices/d/messages/devicebound/$.to=%2Fdevices%2Fd",
		"$iothub/twin/GET/?$rid=1",
		"$iothub/twin/res/204/?$rid=1&$version=2",
		"$iothub/twin/PATCH/properties/desired/?$version=3",
		"$iothub/methods/POST/m/?$rid=9",
		"$iothub/methods/res/500/?$rid=9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			return
		}
		out := tp.String()
		if len(out) > MaxTopicLength {
			return // raw bytes the parser took grow threefold when encoded
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(tp)) {
			t.Fatalf("round trip of %q through %q:\n got %+v\nwant %+v", s, out, again, tp)
		}
	})
}

// normalize makes an empty bag and a nil bag equal.
func normalize(t Topic) Topic {
	if len(t.Properties) == 0 {
		t.Properties = nil
	}
	return t
}

// FuzzPropertyBag: ParseBag never panics, stays within its bounds, and a
// parsed bag formats to text that parses to the same bag.
func FuzzPropertyBag(f *testing.F) {
	for _, s := range []string{"", "a=1", "$.mid=1&$.ct=application%2Fjson&x", "a=%zz", "=v", "k+1=v%20w&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bag, err := ParseBag(s)
		if err != nil {
			return
		}
		if len(bag) > MaxProperties {
			t.Fatalf("%d properties, more than %d", len(bag), MaxProperties)
		}
		if len(bag.String()) > MaxTopicLength {
			return // raw bytes the parser took grow threefold when encoded
		}
		again, err := ParseBag(bag.String())
		if err != nil {
			t.Fatalf("String %q of the bag of %q does not parse: %v", bag.String(), s, err)
		}
		if !reflect.DeepEqual(again, bag) {
			t.Fatalf("round trip of %q: got %#v, want %#v", s, again, bag)
		}
	})
}

// FuzzConnectUsername: ParseUsername never panics, names a service and the
// IDs it needs, and round-trips through String.
func FuzzConnectUsername(f *testing.F) {
	for _, s := range []string{
		"0ne00/registrations/dev/api-version=2019-03-31&ClientVersion=x%2F1",
		"hub.example/dev/?api-version=2021-04-12",
		"hub.example/dev/mod/?api-version=2021-04-12&DeviceClientType=x",
		"hub.example/dev/api-version=2016-11-14",
		"a/registrations/b/?c=d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUsername(s)
		if err != nil {
			return
		}
		switch u.Service {
		case DPS:
			if u.IDScope == "" || u.RegistrationID == "" {
				t.Fatalf("DPS user name %q without scope or registration ID: %+v", s, u)
			}
		case IoTHub:
			if u.HubHost == "" || u.DeviceID == "" {
				t.Fatalf("hub user name %q without host or device: %+v", s, u)
			}
		default:
			t.Fatalf("user name %q: service %v", s, u.Service)
		}
		if len(u.String()) > MaxTopicLength {
			return // raw bytes the parser took grow threefold when encoded
		}
		again, err := ParseUsername(u.String())
		if err != nil {
			t.Fatalf("String %q of %q does not parse: %v", u.String(), s, err)
		}
		if !reflect.DeepEqual(again, u) {
			t.Fatalf("round trip of %q through %q:\n got %+v\nwant %+v", s, u.String(), again, u)
		}
	})
}
