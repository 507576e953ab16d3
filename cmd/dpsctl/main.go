// Command dpsctl manages Azure IoT Hub Device Provisioning Service
// enrollments, groups and registrations, and runs a DPS-compatible local
// service.
package main

import (
	"os"

	"github.com/dpsctl/dpsctl/pkg/cli"
)

func main() {
	os.Exit(cli.Main())
}
