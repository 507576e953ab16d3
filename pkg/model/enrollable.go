package model

// Enrollable is an individual enrollment or an enrollment group: the
// members both have, and what tells them apart.
type Enrollable interface {
	// Common returns the members the two kinds share.
	Common() *EnrollmentCommon
	// ID returns the registration ID of an enrollment or the ID of a group.
	ID() string
	// Kind tells the two apart. It does not read the receiver, so a nil
	// pointer of either type answers too.
	Kind() EnrollmentKind
}

var (
	_ Enrollable = (*IndividualEnrollment)(nil)
	_ Enrollable = (*EnrollmentGroup)(nil)
)

// EnrollablePointer constrains code generic over the two kinds: T is
// IndividualEnrollment or EnrollmentGroup, and P its pointer, which is
// Enrollable.
type EnrollablePointer[T any] interface {
	*T
	Enrollable
}

// Common returns c, the shared members of the enrollment or group that
// embeds it.
func (c *EnrollmentCommon) Common() *EnrollmentCommon { return c }

// ID returns the registration ID.
func (e *IndividualEnrollment) ID() string { return e.RegistrationID }

// Kind returns KindEnrollment.
func (*IndividualEnrollment) Kind() EnrollmentKind { return KindEnrollment }

// ID returns the enrollment group ID.
func (g *EnrollmentGroup) ID() string { return g.EnrollmentGroupID }

// Kind returns KindGroup.
func (*EnrollmentGroup) Kind() EnrollmentKind { return KindGroup }

// EnrollmentKind is the kind of an Enrollable.
type EnrollmentKind uint8

// The two kinds.
const (
	KindEnrollment EnrollmentKind = iota // IndividualEnrollment
	KindGroup                            // EnrollmentGroup
)

// String names the kind in messages: "enrollment" or "enrollment group".
func (k EnrollmentKind) String() string {
	if k == KindGroup {
		return "enrollment group"
	}
	return "enrollment"
}

// IDMember is the JSON member that holds the ID.
func (k EnrollmentKind) IDMember() string {
	if k == KindGroup {
		return "enrollmentGroupId"
	}
	return "registrationId"
}

// ItemType is the x-ms-item-type of a query for the kind.
func (k EnrollmentKind) ItemType() string {
	if k == KindGroup {
		return ItemTypeEnrollmentGroup
	}
	return ItemTypeEnrollment
}

// NotFoundCode is the error code of a missing one.
func (k EnrollmentKind) NotFoundCode() int {
	if k == KindGroup {
		return ErrEnrollmentGroupNotFound
	}
	return ErrEnrollmentNotFound
}

// Certificates picks the certificate slots the kind uses in an X.509
// attestation: the client certificates of an enrollment, the signing
// certificates of a group.
func (k EnrollmentKind) Certificates(x *X509Attestation) **X509Certificates {
	if k == KindGroup {
		return &x.SigningCertificates
	}
	return &x.ClientCertificates
}
