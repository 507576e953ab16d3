package enrollfile

import (
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/model"
)

// Schema is the set of columns of a file of one kind of entity. A file of
// individual enrollments has every column. A file of enrollment groups
// names its ID column enrollmentGroupId (the RegistrationID column holds
// it) and has neither endorsementKey (groups take no TPM attestation) nor
// deviceId (the devices of a group are named by their registration IDs);
// its certificate columns hold the group's signing certificates.
type Schema struct {
	kind model.EnrollmentKind
}

// SchemaOf returns the schema of files of kind k.
func SchemaOf(k model.EnrollmentKind) Schema { return Schema{kind: k} }

// Kind is the kind of entity of the schema's rows.
func (s Schema) Kind() model.EnrollmentKind { return s.kind }

// Has reports whether c is a column of the schema.
func (s Schema) Has(c Column) bool {
	if c < 0 || c >= NumColumns {
		return false
	}
	return s.kind != model.KindGroup || (c != EndorsementKey && c != DeviceID)
}

// Name returns the name of column c in headers, JSON members and messages.
func (s Schema) Name(c Column) string {
	if c == RegistrationID {
		return s.kind.IDMember()
	}
	return c.String()
}

// Columns returns the schema's columns in the order files are written.
func (s Schema) Columns() []Column {
	var cols []Column
	for c := range NumColumns {
		if s.Has(c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// Names returns the names of the schema's columns in order.
func (s Schema) Names() []string {
	cols := s.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = s.Name(c)
	}
	return names
}

// Lookup finds a column of the schema by name, ignoring case.
func (s Schema) Lookup(name string) (Column, bool) {
	for _, c := range s.Columns() {
		if strings.EqualFold(s.Name(c), name) {
			return c, true
		}
	}
	return 0, false
}

// unknown explains a name that is not a column of the schema, suggesting
// the closest one when it is probably a typo, and saying when it is a
// column of the other kind's files.
func (s Schema) unknown(name string) error {
	names := s.Names()
	if s.kind == model.KindGroup {
		if c, ok := LookupColumn(name); ok {
			return fmt.Errorf("%q is a column of individual enrollment files, not of enrollment group files; the columns are %s", c, strings.Join(names, ", "))
		}
	}
	best, dist := "", 1<<30
	for _, n := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); d < dist {
			best, dist = n, d
		}
	}
	if dist <= 2 || (dist <= 4 && len(name) >= 10) {
		return fmt.Errorf("unknown column %q (did you mean %q?); the columns are %s", name, best, strings.Join(names, ", "))
	}
	return fmt.Errorf("unknown column %q; the columns are %s", name, strings.Join(names, ", "))
}
