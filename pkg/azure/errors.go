package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// SignInError is a failure to get a token from Entra ID: no az on PATH, an
// expired or missing login, a rejected client secret. It always means that
// the user must sign in again or choose another identity.
type SignInError struct {
	Kind string
	Err  error
}

func (e *SignInError) Unwrap() error { return e.Err }

// Error is one line: what failed and what to do.
func (e *SignInError) Error() string {
	first := firstLine(e.Err.Error())
	switch e.Kind {
	case CredentialAzureCLI:
		if strings.Contains(first, "executable not found") || errors.Is(e.Err, errAzNotFound) {
			return "the Azure CLI (az) is not on PATH: install it and run \"az login\", or choose another --credential"
		}
		return fmt.Sprintf("cannot get a token from the Azure CLI (%s): run \"az login\"", trimCredentialName(first))
	case CredentialEnvironment:
		return fmt.Sprintf("cannot sign in with the service principal of AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH): %s", trimCredentialName(first))
	case CredentialWorkloadIdentity:
		return fmt.Sprintf("cannot sign in with the workload identity (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE): %s", trimCredentialName(first))
	case CredentialManagedIdentity:
		return fmt.Sprintf("cannot sign in with the managed identity: %s", trimCredentialName(first))
	case CredentialDeviceCode:
		return fmt.Sprintf("device code sign-in failed: %s", trimCredentialName(first))
	}
	return fmt.Sprintf("cannot sign in to Microsoft Entra ID: %s", first)
}

// Details is the full message of the underlying failure (for -v).
func (e *SignInError) Details() string { return e.Err.Error() }

// errAzNotFound is the Azure CLI missing from PATH.
var errAzNotFound = errors.New("az: executable not found on PATH")

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return strings.TrimSuffix(s, ":")
}

// trimCredentialName drops azidentity's "XCredential: " prefix.
func trimCredentialName(s string) string {
	if i := strings.Index(s, "Credential: "); i >= 0 && !strings.Contains(s[:i], " ") {
		return s[i+len("Credential: "):]
	}
	return s
}

// ARMError is an error answer of the resource manager:
// {"error":{"code","message"}} with its HTTP status and request IDs.
type ARMError struct {
	Op            string // what was asked, e.g. "get provisioning service mydps"
	StatusCode    int
	Code          string
	Message       string
	RequestID     string // x-ms-request-id
	CorrelationID string // x-ms-correlation-request-id
	Err           error
}

func (e *ARMError) Unwrap() error { return e.Err }

// Error is one line: what failed, the code and the message of ARM.
func (e *ARMError) Error() string {
	msg := firstLine(e.Message)
	code := e.Code
	if code == "" {
		code = http.StatusText(e.StatusCode)
	}
	s := fmt.Sprintf("%s: %s (HTTP %d)", e.Op, code, e.StatusCode)
	if msg != "" {
		s += ": " + msg
	}
	if hint := e.hint(); hint != "" {
		s += "; " + hint
	}
	return s
}

// AuthFailure reports a 401 or 403: the identity may not do this.
func (e *ARMError) AuthFailure() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// NotFound reports a 404.
func (e *ARMError) NotFound() bool { return e.StatusCode == http.StatusNotFound }

// hint says what to do about the error, "" when nothing useful can be said.
func (e *ARMError) hint() string {
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.Code == "ExpiredAuthenticationToken" || e.Code == "InvalidAuthenticationToken":
		return "sign in again (az login)"
	case e.StatusCode == http.StatusForbidden:
		return "the signed-in identity needs a role on the resource (Reader to find it, Contributor to change it and read its keys)"
	case e.Code == "ResourceGroupNotFound":
		return "check --resource-group and --subscription"
	case e.StatusCode == http.StatusNotFound:
		return "check the name, --resource-group and --subscription"
	}
	return ""
}

// RequestIDs returns the request IDs of the answer, for -v.
func (e *ARMError) RequestIDs() map[string]string {
	ids := map[string]string{}
	if e.RequestID != "" {
		ids["x-ms-request-id"] = e.RequestID
	}
	if e.CorrelationID != "" {
		ids["x-ms-correlation-request-id"] = e.CorrelationID
	}
	return ids
}

// armError turns an error of an ARM client into an *ARMError when it is an
// answer of ARM; others (sign-in failures, the network) pass unchanged.
func armError(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &ARMError{Op: op, StatusCode: re.StatusCode, Code: re.ErrorCode, Err: err}
	if r := re.RawResponse; r != nil {
		e.RequestID = r.Header.Get("x-ms-request-id")
		e.CorrelationID = r.Header.Get("x-ms-correlation-request-id")
		if r.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			code, msg := ParseARMErrorBody(body)
			if code != "" {
				e.Code = code
			}
			e.Message = msg
		}
	}
	return e
}

// ParseARMErrorBody reads the code and message of an ARM error body
// ({"error":{"code","message"}}, or the same fields at the top level);
// empty strings when it is not one.
func ParseARMErrorBody(body []byte) (code, message string) {
	var v struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", ""
	}
	if v.Error != nil {
		return v.Error.Code, v.Error.Message
	}
	return v.Code, v.Message
}

// IsAuthFailure reports whether err means that the identity could not sign
// in or may not do what was asked: exit code 4 for the CLI.
func IsAuthFailure(err error) bool {
	var se *SignInError
	if errors.As(err, &se) {
		return true
	}
	var ae *ARMError
	return errors.As(err, &ae) && ae.AuthFailure()
}
