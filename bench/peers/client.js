// The service client of the official Node SDK, built from the connection
// string in DPSCTL_CONNECTION_STRING with the port taken out of HostName
// (remap.js dials it).
'use strict';
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');

function connectionString() {
  const cs = process.env.DPSCTL_CONNECTION_STRING;
  if (!cs) throw new Error('DPSCTL_CONNECTION_STRING is not set');
  return cs.replace(/HostName=([^;:]+):\d+/i, 'HostName=$1');
}

module.exports = () => ProvisioningServiceClient.fromConnectionString(connectionString());
