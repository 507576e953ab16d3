package sas

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseConnectionString(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ConnectionString
		wantErr string
	}{
		{name: "canonical", in: "HostName=my.azure-devices-provisioning.net;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5",
			want: ConnectionString{HostName: "my.azure-devices-provisioning.net", KeyName: "provisioningserviceowner", Key: "a2V5a2V5a2V5a2V5a2V5a2V5"}},
		{name: "port and padding", in: "HostName=localhost:8443;SharedAccessKeyName=owner;SharedAccessKey=a2V5MQ==",
			want: ConnectionString{HostName: "localhost:8443", KeyName: "owner", Key: "a2V5MQ=="}},
		{name: "any order and case, trailing semicolon", in: "sharedaccesskey=a2V5MQ==;hostname=h.example;SharedAccessKeyName=o;",
			want: ConnectionString{HostName: "h.example", KeyName: "o", Key: "a2V5MQ=="}},
		{name: "signature", in: "HostName=h;SharedAccessSignature=SharedAccessSignature sr=h&sig=x&se=1",
			want: ConnectionString{HostName: "h", Signature: "SharedAccessSignature sr=h&sig=x&se=1"}},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no host", in: "SharedAccessKeyName=o;SharedAccessKey=a2V5MQ==", wantErr: "HostName: missing"},
		{name: "no key", in: "HostName=h;SharedAccessKeyName=o", wantErr: "SharedAccessKey: missing"},
		{name: "no key name", in: "HostName=h;SharedAccessKey=a2V5MQ==", wantErr: "SharedAccessKeyName: missing"},
		{name: "bad base64", in: "HostName=h;SharedAccessKeyName=o;SharedAccessKey=!!", wantErr: "not valid base64"},
		{name: "unknown field", in: "HostName=h;Foo=bar", wantErr: "Foo: unknown field"},
		{name: "no equals", in: "HostName=h;junk", wantErr: "expected name=value"},
		{name: "twice", in: "HostName=h;HostName=i", wantErr: "given twice"},
		{name: "bad host", in: "HostName=h/x;SharedAccessKeyName=o;SharedAccessKey=a2V5MQ==", wantErr: "not allowed in a host name"},
		{name: "bad port", in: "HostName=h:x1;SharedAccessKeyName=o;SharedAccessKey=a2V5MQ==", wantErr: "bad port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConnectionString(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConnectionStringRender(t *testing.T) {
	cs := ConnectionString{HostName: "localhost:8443", KeyName: "o", Key: "a2V5MQ=="}
	if got := cs.String(); got != "HostName=localhost:8443;SharedAccessKeyName=o;SharedAccessKey=a2V5MQ==" {
		t.Fatal(got)
	}
	if got := cs.Masked(); strings.Contains(got, "a2V5") {
		t.Fatal("masked string leaks key:", got)
	}
	if cs.Host() != "localhost" {
		t.Fatal(cs.Host())
	}
}

// The derived-key vector published in the DPS documentation.
func TestDeriveDeviceKey(t *testing.T) {
	got, err := DeriveDeviceKey("8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==", "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=" {
		t.Fatalf("got %s", got)
	}
	if _, err := DeriveDeviceKey("%%", "x"); err == nil {
		t.Fatal("bad key accepted")
	}
}

func TestTokenRoundTrip(t *testing.T) {
	key := "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"
	now := time.Unix(1_700_000_000, 0)
	encodings := []string{
		"0ne0000A0A0/registrations/dev-1",
		"0ne0000A0A0%2Fregistrations%2Fdev-1",
		"0ne0000A0A0%2fregistrations%2fdev-1",
	}
	for _, sr := range encodings {
		tok, err := NewToken(key, sr, "registration", now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.RawResource != sr || p.Resource != "0ne0000A0A0/registrations/dev-1" || p.KeyName != "registration" {
			t.Fatalf("parsed %+v", p)
		}
		if err := p.Verify(key, now); err != nil {
			t.Fatalf("%s: %v", sr, err)
		}
		if err := p.Verify("b3RoZXJrZXk=", now); !errors.Is(err, ErrSignature) {
			t.Fatalf("wrong key: %v", err)
		}
		if err := p.Verify(key, now.Add(time.Hour+MaxClockSkew+time.Second)); !errors.Is(err, ErrExpired) {
			t.Fatalf("expired: %v", err)
		}
		if err := p.Verify(key, now.Add(time.Hour+MaxClockSkew-time.Second)); err != nil {
			t.Fatalf("within skew: %v", err)
		}
	}
}

// Field order differs between SDKs (Node sr,sig,skn,se; C# sr,sig,se,skn).
func TestParseTokenFieldOrder(t *testing.T) {
	key := "a2V5a2V5a2V5a2V5"
	tok, _ := NewToken(key, "h", "", time.Unix(2_000_000_000, 0))
	p, _ := ParseToken(tok)
	sig := strings.SplitN(strings.SplitN(tok, "sig=", 2)[1], "&", 2)[0]
	reordered := "SharedAccessSignature skn=owner&se=2000000000&sr=h&sig=" + sig
	q, err := ParseToken(reordered)
	if err != nil {
		t.Fatal(err)
	}
	if string(q.Signature) != string(p.Signature) || q.KeyName != "owner" {
		t.Fatalf("%+v", q)
	}
	if err := q.Verify(key, time.Unix(1_999_999_000, 0)); err != nil {
		t.Fatal(err)
	}
}

func TestParseTokenErrors(t *testing.T) {
	for _, in := range []string{
		"", "Bearer x", "SharedAccessSignature ", "SharedAccessSignature sr=a&sig=YQ==",
		"SharedAccessSignature sr=a&se=1", "SharedAccessSignature sig=YQ==&se=1",
		"SharedAccessSignature sr=a&sig=YQ==&se=x", "SharedAccessSignature sr=a&sig=!!&se=1",
		"SharedAccessSignature sr=a&sig=YQ==&se=1&junk", "SharedAccessSignature sr=%zz&sig=YQ==&se=1",
		"SharedAccessSignature sr=a&sr=b&sig=YQ==&se=1",
	} {
		if _, err := ParseToken(in); err == nil {
			t.Errorf("ParseToken(%q) accepted", in)
		}
	}
}
