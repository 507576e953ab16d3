// Package config resolves the settings of a dpsctl run. Each setting comes
// from the first of: a command-line flag, a DPSCTL_* environment variable,
// the named profile in the configuration file, the built-in default. With no
// connection string at all, or with --data-dir on the command line, the CLI
// uses the embedded provisioning service.
//
// The configuration file is $XDG_CONFIG_HOME/dpsctl/config.yaml
// (~/.config/dpsctl/config.yaml by default):
//
//	current-profile: prod
//	profiles:
//	  prod:
//	    connection-string: HostName=…;SharedAccessKeyName=…;SharedAccessKey=…
//	    ca-file: /path/to/ca.pem
//	    api-version: 2025-02-01-preview   # optional; see APIVersion
//	  azure:
//	    auth-type: login
//	    dps-name: mydps
//	    resource-group: rg
//	    subscription: 00000000-0000-0000-0000-000000000000
//	    host: mydps.azure-devices-provisioning.net
//
// A profile names its service by connection string, or (in Azure) by the
// instance's name and resource group, which the resource manager resolves,
// or by its host name, reached with a Microsoft Entra ID token.
//
// It is read and written with a private viper instance; nothing here touches
// viper's global state.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/viper"
)

// Environment variables.
const (
	EnvConnectionString = "DPSCTL_CONNECTION_STRING"
	EnvCAFile           = "DPSCTL_CA_FILE"
	EnvProfile          = "DPSCTL_PROFILE"
	EnvDataDir          = "DPSCTL_DATA_DIR"
	EnvOutput           = "DPSCTL_OUTPUT"
	EnvQuiet            = "DPSCTL_QUIET"
	EnvConfigFile       = "DPSCTL_CONFIG" // overrides the configuration file path
	EnvAPIVersion       = "DPSCTL_API_VERSION"

	EnvAuthType      = "DPSCTL_AUTH_TYPE"
	EnvCredential    = "DPSCTL_CREDENTIAL"
	EnvDPSName       = "DPSCTL_DPS_NAME"
	EnvResourceGroup = "DPSCTL_RESOURCE_GROUP"
	EnvSubscription  = "DPSCTL_SUBSCRIPTION"
	EnvHost          = "DPSCTL_HOST"
	EnvCloud         = "DPSCTL_CLOUD"
	EnvARMEndpoint   = "DPSCTL_ARM_ENDPOINT"
	EnvAuthorityHost = "DPSCTL_AUTHORITY_HOST"
)

// Authentication types of the service API (--auth-type), as az names them.
const (
	AuthKey   = "key"   // SAS tokens of a shared access policy's key
	AuthLogin = "login" // Microsoft Entra ID bearer tokens
)

// Keys of the configuration file.
const (
	keyCurrentProfile   = "current-profile"
	keyProfiles         = "profiles"
	keyConnectionString = "connection-string"
	keyCAFile           = "ca-file"
	keyAPIVersion       = "api-version"
	keyAuthType         = "auth-type"
	keyCredential       = "credential"
	keyDPSName          = "dps-name"
	keyResourceGroup    = "resource-group"
	keySubscription     = "subscription"
	keyHost             = "host"
	keyIDScope          = "id-scope"
	keyCloud            = "cloud"
	keyARMEndpoint      = "arm-endpoint"
	keyAuthorityHost    = "authority-host"
)

// Source says where a setting came from.
type Source string

// Setting sources, highest precedence first.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceProfile Source = "profile"
	SourceDefault Source = "default"
)

// Overrides are the values given as global flags; "" means not given.
type Overrides struct {
	ConnectionString string
	CAFile           string
	Profile          string
	DataDir          string
	Output           string
	APIVersion       string

	AuthType      string // --auth-type
	Credential    string // --credential
	DPSName       string // --dps-name/-n
	ResourceGroup string // --resource-group/-g
	Subscription  string // --subscription
	Cloud         string // --cloud
	ARMEndpoint   string // --arm-endpoint
	AuthorityHost string // --authority-host
}

// Config is the resolved configuration of one run.
type Config struct {
	ConnectionString       string // "" selects the embedded service
	ConnectionStringSource Source
	CAFile                 string
	CAFileSource           Source
	Profile                string // the profile in effect, "" for none
	ProfileSource          Source
	DataDir                string
	DataDirSource          Source
	Output                 string
	OutputSource           Source
	// APIVersion is the api-version the service API client sends ("" for
	// the client's default, model.APIVersion); see ValidateAPIVersion.
	APIVersion       string
	APIVersionSource Source
	Path             string // the configuration file
	File             *File

	// Azure: the instance by name (resolved through the resource
	// manager) or by host, and how to sign in.
	AuthType       string // AuthKey or AuthLogin
	AuthTypeSource Source
	Credential     string // kind of Entra ID credential, "" for the Azure CLI
	DPSName        string
	DPSNameSource  Source
	ResourceGroup  string
	Subscription   string // "" for the Azure CLI's current subscription
	Host           string // service API host for AuthLogin
	HostSource     Source
	IDScope        string // the profile's ID scope (saved by set-profile -n)
	Cloud          string
	ARMEndpoint    string
	AuthorityHost  string
}

// Embedded reports whether no service is configured (no connection string,
// instance name or host), so the embedded provisioning service is used.
func (c *Config) Embedded() bool {
	return c.ConnectionString == "" && c.DPSName == "" && c.Host == ""
}

// Azure reports whether the service is named through Azure: by instance
// name, or by host with Entra ID sign-in.
func (c *Config) Azure() bool { return c.DPSName != "" || c.Host != "" }

// ServiceOrigin describes where the service comes from, e.g. `provisioning
// service "mydps" from profile "prod"`, or the connection string's origin.
func (c *Config) ServiceOrigin() string {
	name, src := "", SourceDefault
	switch {
	case c.DPSName != "":
		name, src = fmt.Sprintf("provisioning service %q", c.DPSName), c.DPSNameSource
	case c.Host != "":
		name, src = "host "+c.Host, c.HostSource
	default:
		return c.ConnectionStringOrigin()
	}
	switch src {
	case SourceFlag:
		return name + " from the command line"
	case SourceEnv:
		return name + " from the environment"
	case SourceProfile:
		return fmt.Sprintf("%s from profile %q", name, c.Profile)
	}
	return name
}

// ConnectionStringOrigin describes where the connection string came from,
// e.g. `connection string from profile "prod"`.
func (c *Config) ConnectionStringOrigin() string {
	if c.ConnectionString == "" {
		if c.ConnectionStringSource == SourceFlag {
			return "no connection string (--data-dir selects the embedded service)"
		}
		return "no connection string"
	}
	switch c.ConnectionStringSource {
	case SourceFlag:
		return "connection string from --connection-string"
	case SourceEnv:
		return "connection string from " + EnvConnectionString
	case SourceProfile:
		return fmt.Sprintf("connection string from profile %q", c.Profile)
	}
	return "no connection string"
}

// Load resolves the configuration from flags, the environment and the
// configuration file. A flag always beats the environment and the profile:
//
//   - --data-dir selects the embedded service on that directory, whatever
//     DPSCTL_CONNECTION_STRING or the profile say; with --connection-string
//     or --profile it is an error, since the flags name two services.
//     (DPSCTL_DATA_DIR only says where the data directory is: a connection
//     string from the environment or the profile still selects its service.)
//   - --profile selects that profile's connection: its connection string
//     and CA file beat DPSCTL_CONNECTION_STRING and DPSCTL_CA_FILE.
//   - --connection-string and --ca-file beat everything else.
func Load(o Overrides) (*Config, error) {
	path, err := FilePath()
	if err != nil {
		return nil, err
	}
	file, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path, File: file}

	// --data-dir names the embedded service: another flag naming a
	// service contradicts it.
	embedded := o.DataDir != ""
	if embedded {
		for _, other := range []struct{ flag, value string }{{"--connection-string", o.ConnectionString}, {"--profile", o.Profile}, {"--dps-name", o.DPSName}} {
			if other.value != "" {
				return nil, fmt.Errorf("--data-dir selects the embedded provisioning service and %s another service; give one of them", other.flag)
			}
		}
	}

	// Pick the profile: flag, environment, then current-profile. With
	// --data-dir no profile is in effect.
	var prof Profile
	if !embedded {
		c.Profile, c.ProfileSource = pick(o.Profile, EnvProfile, "", file.CurrentProfile)
	}
	if c.Profile != "" {
		name := strings.ToLower(c.Profile)
		p, ok := file.Profiles[name]
		if !ok {
			how := map[Source]string{SourceFlag: "--profile", SourceEnv: EnvProfile, SourceProfile: keyCurrentProfile}[c.ProfileSource]
			return nil, fmt.Errorf("profile %q (from %s) is not defined in %s; see \"dpsctl config list\"", c.Profile, how, path)
		}
		c.Profile, prof = name, p
	}
	// The connection settings of a profile named by --profile count as
	// flags: the environment's are not consulted.
	envCS, envCA := EnvConnectionString, EnvCAFile
	envName, envRG, envSub, envHost := EnvDPSName, EnvResourceGroup, EnvSubscription, EnvHost
	if c.ProfileSource == SourceFlag {
		if strings.TrimSpace(prof.ConnectionString) == "" && prof.DPSName == "" && prof.Host == "" {
			return nil, fmt.Errorf("profile %q (from --profile) has no connection-string, dps-name or host in %s", c.Profile, path)
		}
		envCS, envCA = "", ""
		envName, envRG, envSub, envHost = "", "", "", ""
	}

	if embedded {
		c.ConnectionStringSource = SourceFlag
	} else {
		c.ConnectionString, c.ConnectionStringSource = pick(o.ConnectionString, envCS, prof.ConnectionString, "")
		c.ConnectionString = strings.TrimSpace(c.ConnectionString)
		c.DPSName, c.DPSNameSource = pick(o.DPSName, envName, prof.DPSName, "")
		c.Host, c.HostSource = pick("", envHost, prof.Host, "")
		c.ResourceGroup, _ = pick(o.ResourceGroup, envRG, prof.ResourceGroup, "")
		c.Subscription, _ = pick(o.Subscription, envSub, prof.Subscription, "")
		c.resolveServiceSources()
		if c.DPSName == prof.DPSName && c.Host == prof.Host && c.ConnectionString == strings.TrimSpace(prof.ConnectionString) {
			c.IDScope = prof.IDScope // only while the profile's service is the one in use
		}
	}
	c.AuthType, c.AuthTypeSource = pick(o.AuthType, EnvAuthType, prof.AuthType, "")
	c.AuthType = strings.ToLower(c.AuthType)
	switch c.AuthType {
	case "":
		// key with a connection string, login with only a name or host
		c.AuthType = AuthLogin
		if c.ConnectionString != "" {
			c.AuthType = AuthKey
		}
		c.AuthTypeSource = SourceDefault
	case AuthKey, AuthLogin:
	default:
		return nil, fmt.Errorf("auth type %q (from %s): use %s or %s", c.AuthType, c.AuthTypeSource, AuthKey, AuthLogin)
	}
	if c.AuthType == AuthKey && c.ConnectionString == "" && c.DPSName == "" && c.Host != "" {
		return nil, fmt.Errorf("auth type key needs a connection string or --dps-name (the keys are read through the resource manager); host %s alone can only be reached with --auth-type login", c.Host)
	}
	c.Credential, _ = pick(o.Credential, EnvCredential, prof.Credential, "")
	c.Cloud, _ = pick(o.Cloud, EnvCloud, prof.Cloud, "")
	c.ARMEndpoint, _ = pick(o.ARMEndpoint, EnvARMEndpoint, prof.ARMEndpoint, "")
	c.AuthorityHost, _ = pick(o.AuthorityHost, EnvAuthorityHost, prof.AuthorityHost, "")
	c.CAFile, c.CAFileSource = pick(o.CAFile, envCA, prof.CAFile, "")
	dataDir, err := DefaultDataDir()
	if err != nil {
		return nil, err
	}
	c.DataDir, c.DataDirSource = pick(o.DataDir, EnvDataDir, "", "")
	if c.DataDir == "" {
		c.DataDir = dataDir
	}
	c.APIVersion, c.APIVersionSource = pick(o.APIVersion, EnvAPIVersion, prof.APIVersion, "")
	if c.APIVersion != "" {
		if err := ValidateAPIVersion(c.APIVersion); err != nil {
			how := map[Source]string{SourceFlag: "--api-version", SourceEnv: EnvAPIVersion, SourceProfile: fmt.Sprintf("profile %q", c.Profile)}[c.APIVersionSource]
			return nil, fmt.Errorf("%s: %w", how, err)
		}
	}
	c.Output, c.OutputSource = pick(o.Output, EnvOutput, "", "")
	if c.Output == "" {
		c.Output = "table"
	}
	return c, nil
}

// resolveServiceSources keeps one way of naming the service when sources
// of different precedence name it in different ways: a connection string
// on the command line beats an instance name in the profile, an instance
// name in the environment beats a connection string in the profile. Ways
// given by the same source (a profile with both a name and a connection
// string) are kept together.
func (c *Config) resolveServiceSources() {
	csRank := rank(c.ConnectionString, c.ConnectionStringSource)
	azRank := max(rank(c.DPSName, c.DPSNameSource), rank(c.Host, c.HostSource))
	switch {
	case csRank > azRank && azRank > 0:
		c.DPSName, c.DPSNameSource, c.Host, c.HostSource = "", SourceDefault, "", SourceDefault
	case azRank > csRank && csRank > 0:
		c.ConnectionString, c.ConnectionStringSource = "", SourceDefault
	}
}

func rank(value string, s Source) int {
	if value == "" {
		return 0
	}
	switch s {
	case SourceFlag:
		return 3
	case SourceEnv:
		return 2
	case SourceProfile:
		return 1
	}
	return 0
}

// pick returns the first non-empty of flag, $env and profile value, with its
// source; fallback is used (as a profile-level value) when all are empty. An
// empty env name skips the environment.
func pick(flag, env, profile, fallback string) (string, Source) {
	if flag != "" {
		return flag, SourceFlag
	}
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return v, SourceEnv
		}
	}
	if profile != "" {
		return profile, SourceProfile
	}
	if fallback != "" {
		return fallback, SourceProfile
	}
	return "", SourceDefault
}

// Quiet reports whether DPSCTL_QUIET asks for no status lines.
func Quiet() bool {
	v := os.Getenv(EnvQuiet)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// FilePath returns the configuration file path: $DPSCTL_CONFIG, else
// $XDG_CONFIG_HOME/dpsctl/config.yaml, else ~/.config/dpsctl/config.yaml.
func FilePath() (string, error) {
	if p := os.Getenv(EnvConfigFile); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot locate the configuration file: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "dpsctl", "config.yaml"), nil
}

// DefaultDataDir returns the data directory used when neither --data-dir nor
// DPSCTL_DATA_DIR is given: $XDG_DATA_HOME/dpsctl or ~/.local/share/dpsctl.
func DefaultDataDir() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot locate the data directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "dpsctl"), nil
}

// Profile is a named connection.
type Profile struct {
	Name             string `json:"name"`
	ConnectionString string `json:"connectionString"`
	CAFile           string `json:"caFile,omitempty"`
	APIVersion       string `json:"apiVersion,omitempty"`
	Current          bool   `json:"current"`

	// Azure
	AuthType      string `json:"authType,omitempty"`
	Credential    string `json:"credential,omitempty"`
	DPSName       string `json:"dpsName,omitempty"`
	ResourceGroup string `json:"resourceGroup,omitempty"`
	Subscription  string `json:"subscription,omitempty"`
	Host          string `json:"host,omitempty"`
	IDScope       string `json:"idScope,omitempty"`
	Cloud         string `json:"cloud,omitempty"`
	ARMEndpoint   string `json:"armEndpoint,omitempty"`
	AuthorityHost string `json:"authorityHost,omitempty"`
}

// fields are the optional keys of a profile in the file.
func (p *Profile) fields() []struct {
	key string
	val *string
} {
	return []struct {
		key string
		val *string
	}{
		{keyCAFile, &p.CAFile}, {keyAuthType, &p.AuthType}, {keyCredential, &p.Credential},
		{keyDPSName, &p.DPSName}, {keyResourceGroup, &p.ResourceGroup}, {keySubscription, &p.Subscription},
		{keyHost, &p.Host}, {keyIDScope, &p.IDScope}, {keyCloud, &p.Cloud},
		{keyARMEndpoint, &p.ARMEndpoint}, {keyAuthorityHost, &p.AuthorityHost}, {keyAPIVersion, &p.APIVersion},
	}
}

// File is the configuration file's content.
type File struct {
	Path           string
	CurrentProfile string
	Profiles       map[string]Profile
}

// ReadFile reads a configuration file; a missing file reads as empty.
func ReadFile(path string) (*File, error) {
	f := &File{Path: path, Profiles: map[string]Profile{}}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f.CurrentProfile = v.GetString(keyCurrentProfile)
	for name := range v.GetStringMap(keyProfiles) {
		sub := v.Sub(keyProfiles + "." + name)
		if sub == nil {
			return nil, fmt.Errorf("read %s: profile %q is not a mapping", path, name)
		}
		p := Profile{Name: name, ConnectionString: sub.GetString(keyConnectionString)}
		for _, fl := range p.fields() {
			*fl.val = sub.GetString(fl.key)
		}
		f.Profiles[name] = p
	}
	return f, nil
}

// ValidateProfileName checks a profile name: lower-case letters, digits,
// '-' and '_', starting with a letter or digit.
func ValidateProfileName(name string) error {
	if name == "" {
		return errors.New("profile name is empty")
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("invalid profile name %q: use lower-case letters, digits, '-' and '_'", name)
		}
	}
	return nil
}

// List returns the profiles sorted by name.
func (f *File) List() []Profile {
	out := make([]Profile, 0, len(f.Profiles))
	for _, p := range f.Profiles {
		p.Current = p.Name == f.CurrentProfile
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Get returns the named profile.
func (f *File) Get(name string) (Profile, error) {
	p, ok := f.Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("profile %q is not defined in %s", name, f.Path)
	}
	p.Current = p.Name == f.CurrentProfile
	return p, nil
}

// Set adds or replaces a profile.
func (f *File) Set(p Profile) error {
	if err := ValidateProfileName(p.Name); err != nil {
		return err
	}
	p.Current = false
	f.Profiles[p.Name] = p
	return nil
}

// Use makes a profile current.
func (f *File) Use(name string) error {
	if _, err := f.Get(name); err != nil {
		return err
	}
	f.CurrentProfile = name
	return nil
}

// Delete removes a profile; deleting the current one leaves none current.
func (f *File) Delete(name string) error {
	if _, err := f.Get(name); err != nil {
		return err
	}
	delete(f.Profiles, name)
	if f.CurrentProfile == name {
		f.CurrentProfile = ""
	}
	return nil
}

// Save writes the file atomically with mode 0600, creating its directory
// with mode 0700.
func (f *File) Save() error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if f.CurrentProfile != "" {
		v.Set(keyCurrentProfile, f.CurrentProfile)
	}
	profiles := map[string]any{}
	for name, p := range f.Profiles {
		m := map[string]any{}
		if p.ConnectionString != "" || p.DPSName == "" && p.Host == "" {
			m[keyConnectionString] = p.ConnectionString
		}
		for _, fl := range p.fields() {
			if *fl.val != "" {
				m[fl.key] = *fl.val
			}
		}
		profiles[name] = m
	}
	v.Set(keyProfiles, profiles)

	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := v.WriteConfigTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}

// ValidateAPIVersion checks the shape of a service api-version: a date,
// YYYY-MM-DD, optionally followed by a suffix of lower-case letters and
// digits such as "-preview" (2021-10-01, 2025-02-01-preview).
func ValidateAPIVersion(v string) error {
	bad := func() error {
		return fmt.Errorf("api-version %q is not of the form YYYY-MM-DD or YYYY-MM-DD-preview", v)
	}
	if len(v) < 10 {
		return bad()
	}
	for i := range 10 {
		c := v[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return bad()
			}
		} else if c < '0' || c > '9' {
			return bad()
		}
	}
	month, day := (v[5]-'0')*10+v[6]-'0', (v[8]-'0')*10+v[9]-'0'
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return bad()
	}
	if rest := v[10:]; rest != "" {
		if len(rest) < 2 || rest[0] != '-' {
			return bad()
		}
		for _, c := range rest[1:] {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return bad()
			}
		}
	}
	return nil
}
