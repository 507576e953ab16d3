package sas

// Policy is a shared access policy of a provisioning service: a named pair
// of keys and the rights they grant (ServiceConfig, EnrollmentRead, …).
type Policy struct {
	KeyName      string   `json:"keyName"`
	PrimaryKey   string   `json:"primaryKey"`
	SecondaryKey string   `json:"secondaryKey"`
	Rights       []string `json:"rights"`
}

// ConnectionString is the service connection string of the policy's
// primary key for host (which may carry a port).
func (p Policy) ConnectionString(host string) string {
	return ConnectionString{HostName: host, KeyName: p.KeyName, Key: p.PrimaryKey}.String()
}
