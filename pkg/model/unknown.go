package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	fastjson "github.com/segmentio/encoding/json"
)

// Unknown holds the members of a JSON object that its Go type does not
// model (a member of a newer API version, such as credentialPolicyName),
// exactly as they came: key and value bytes, in their order. A decoded
// enrollment, group or attestation mechanism keeps them, and encoding it
// writes them back after the members it models, so a read-modify-write
// never loses what the service returned.
//
// A document without such members decodes to a nil Unknown and encodes to
// the same bytes as before.
type Unknown []RawMember

// RawMember is one member of Unknown.
type RawMember struct {
	Key   []byte // the quoted key as it came, escapes included
	Value []byte // the value as it came
}

// Name returns the member's name, its escapes resolved.
func (m RawMember) Name() string { return memberName(m.Key) }

// Lookup returns the value of the member called name, nil if there is none.
func (u Unknown) Lookup(name string) []byte {
	for _, m := range u {
		if m.Name() == name {
			return m.Value
		}
	}
	return nil
}

// knownNames are the members a type models, by name and by folded name:
// encoding/json matches a key to a field case-insensitively, and a key it
// matches is not unknown.
type knownNames struct {
	typeName string
	exact    map[string]bool
	names    []string
}

// hasKey is has for a quoted key as it came, its escapes unresolved:
// without escapes, an exactly matching name is looked up without
// converting the key to a string.
func (k *knownNames) hasKey(key []byte) bool {
	if bytes.IndexByte(key, '\\') < 0 && k.exact[string(key[1:len(key)-1])] {
		return true
	}
	return k.has(memberName(key))
}

func (k *knownNames) has(name string) bool {
	if k.exact[name] {
		return true
	}
	for _, n := range k.names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// namesOf collects the JSON member names of the struct types, embedded
// structs included.
func namesOf(typeName string, types ...reflect.Type) *knownNames {
	k := &knownNames{typeName: typeName, exact: map[string]bool{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if !k.exact[name] {
				k.exact[name] = true
				k.names = append(k.names, name)
			}
		}
	}
	for _, t := range types {
		walk(t)
	}
	return k
}

// The members an enrollment or a group models. Each leaves out the other
// kind's members (a group read from a document carrying a registrationId
// drops it) rather than keep them as unknown.
var (
	enrollmentNames  = namesOf("IndividualEnrollment", reflect.TypeFor[plainEnrollment](), reflect.TypeFor[plainGroup]())
	groupNames       = namesOf("EnrollmentGroup", reflect.TypeFor[plainEnrollment](), reflect.TypeFor[plainGroup]())
	attestationNames = namesOf("AttestationMechanism", reflect.TypeFor[plainAttestation]())
)

type (
	plainEnrollment  IndividualEnrollment
	plainGroup       EnrollmentGroup
	plainAttestation AttestationMechanism
)

// MarshalJSON writes the enrollment with its unknown members.
func (e IndividualEnrollment) MarshalJSON() ([]byte, error) {
	return marshalWithUnknown((*plainEnrollment)(&e), e.Unknown)
}

// UnmarshalJSON reads the enrollment and keeps its unknown members.
func (e *IndividualEnrollment) UnmarshalJSON(data []byte) error {
	return unmarshalWithUnknown(data, (*plainEnrollment)(e), enrollmentNames, &e.Unknown)
}

// MarshalJSON writes the group with its unknown members.
func (g EnrollmentGroup) MarshalJSON() ([]byte, error) {
	return marshalWithUnknown((*plainGroup)(&g), g.Unknown)
}

// UnmarshalJSON reads the group and keeps its unknown members.
func (g *EnrollmentGroup) UnmarshalJSON(data []byte) error {
	return unmarshalWithUnknown(data, (*plainGroup)(g), groupNames, &g.Unknown)
}

// MarshalJSON writes the attestation mechanism with its unknown members.
func (a AttestationMechanism) MarshalJSON() ([]byte, error) {
	return marshalWithUnknown((*plainAttestation)(&a), a.Unknown)
}

// UnmarshalJSON reads the attestation mechanism and keeps its unknown
// members.
func (a *AttestationMechanism) UnmarshalJSON(data []byte) error {
	return unmarshalWithUnknown(data, (*plainAttestation)(a), attestationNames, &a.Unknown)
}

// marshalWithUnknown encodes plain (a pointer to a method-less copy of the
// type) and appends the unknown members before its closing brace.
//
// It does not escape HTML: the encoder that called MarshalJSON escapes the
// bytes it returns as it escapes everything else (encoding/json and
// github.com/segmentio/encoding/json both do), so json.Marshal still
// escapes and an Encoder with SetEscapeHTML(false) still does not.
func marshalWithUnknown(plain any, u Unknown) ([]byte, error) {
	b, err := fastjson.Append(nil, plain, fastjson.SortMapKeys)
	if err != nil {
		return nil, err
	}
	if len(u) == 0 {
		return b, nil
	}
	b = b[:len(b)-1] // the closing brace
	for _, m := range u {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = append(b, m.Key...)
		b = append(b, ':')
		b = append(b, m.Value...)
	}
	return append(b, '}'), nil
}

// unmarshalWithUnknown decodes data into plain and sets *u to the members
// of data that names does not know (nil when there are none).
//
// The members it models are decoded with github.com/segmentio/encoding/json,
// which the store and the service rely on for speed and holds to the
// semantics of encoding/json (the codec fuzz tests); a document it refuses
// is decoded again by encoding/json, whose error names the field.
func unmarshalWithUnknown(data []byte, plain any, names *knownNames, u *Unknown) error {
	if err := fastjson.Unmarshal(data, plain); err != nil {
		if err := json.Unmarshal(data, plain); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && strings.HasPrefix(te.Struct, "plain") {
				te.Struct = names.typeName // name the type, not its copy
			}
			return err
		}
	}
	*u = nil
	var size int
	unknown := 0
	err := eachMember(data, func(key, value []byte) {
		if !names.hasKey(key) {
			size += len(key) + len(value)
			unknown++
		}
	})
	if err != nil || unknown == 0 {
		return err
	}
	// Copy the unknown members into one buffer: data is the decoder's.
	buf := make([]byte, 0, size)
	*u = make(Unknown, 0, unknown)
	return eachMember(data, func(key, value []byte) {
		if names.hasKey(key) {
			return
		}
		start := len(buf)
		buf = append(buf, key...)
		mid := len(buf)
		buf = append(buf, value...)
		*u = append(*u, RawMember{Key: buf[start:mid:mid], Value: buf[mid:len(buf):len(buf)]})
	})
}

// memberName resolves the escapes of a quoted key.
func memberName(key []byte) string {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key[1 : len(key)-1])
	}
	var s string
	if json.Unmarshal(key, &s) != nil {
		return string(key[1 : len(key)-1])
	}
	return s
}

var errNotJSON = errors.New("invalid JSON object")

// eachMember calls fn with the quoted key and the value of each member of
// the JSON object data, which the decoder has already read as valid JSON.
// Anything but an object (null) has no members.
func eachMember(data []byte, fn func(key, value []byte)) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for i < len(data) {
		if data[i] != '"' {
			return errNotJSON
		}
		end, err := skipString(data, i)
		if err != nil {
			return err
		}
		key := data[i:end]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errNotJSON
		}
		i = skipSpace(data, i+1)
		end, err = skipValue(data, i)
		if err != nil {
			return err
		}
		fn(key, data[i:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return errNotJSON
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return nil
		default:
			return errNotJSON
		}
	}
	return errNotJSON
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string that starts at data[i].
func skipString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errNotJSON
}

// skipValue returns the offset after the value that starts at data[i].
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errNotJSON
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotJSON
	}
	j := i
	for j < len(data) && !(data[j] == ',' || data[j] == '}' || data[j] == ']' || data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
		j++
	}
	if j == i {
		return 0, errNotJSON
	}
	return j, nil
}
