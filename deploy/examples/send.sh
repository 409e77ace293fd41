#!/usr/bin/env bash
# Sends one ITK SendCDADocument-v2-0 request (a SOAP 1.1 envelope with WS-Addressing and
# WS-Security, carrying a Distribution Envelope) to a router's SOAP listener with curl, and
# prints the HTTP status and the answer. A fresh tracking id and current timestamps each time.
#   deploy/examples/send.sh [URL] [ODS]     defaults: http://127.0.0.1:8080/itk  RHM
set -euo pipefail
url=${1:-http://127.0.0.1:8080/itk}
ods=${2:-RHM}
uuid() { tr a-f A-F < /proc/sys/kernel/random/uuid; }
tracking=$(uuid)
service=urn:nhs-itk:services:201005:SendCDADocument-v2-0
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
expires=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)
body=$(cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:itk="urn:nhs-itk:ns:201005">
<soap:Header>
<wsa:MessageID>$(uuid)</wsa:MessageID>
<wsa:Action>$service</wsa:Action>
<wsa:To>$url</wsa:To>
<wsse:Security><wsu:Timestamp wsu:Id="ts_$(uuid)"><wsu:Created>$created</wsu:Created><wsu:Expires>$expires</wsu:Expires></wsu:Timestamp>
<wsse:UsernameToken><wsse:Username>example-sender</wsse:Username></wsse:UsernameToken></wsse:Security>
</soap:Header>
<soap:Body>
<itk:DistributionEnvelope><itk:header service="$service" trackingid="$tracking">
<itk:addresslist><itk:address uri="urn:nhs-uk:addressing:ods:$ods"/></itk:addresslist>
<itk:auditIdentity><itk:id uri="urn:nhs-uk:identity:ods:A81001"/></itk:auditIdentity>
<itk:manifest count="1"><itk:manifestitem id="uuid_$tracking" mimetype="text/xml"/></itk:manifest>
<itk:senderAddress uri="urn:nhs-uk:addressing:ods:A81001"/>
<itk:handlingSpecification><itk:spec key="urn:nhs-itk:ns:201005:infackrequested" value="true"/><itk:spec key="urn:nhs-itk:ns:201005:interaction" value="urn:nhs-itk:interaction:primaryRecipientNHS111CDADocument-v2-0"/></itk:handlingSpecification>
</itk:header><itk:payloads count="1"><itk:payload id="uuid_$tracking"><example xmlns="urn:example:itk-router">a clinical document goes here</example></itk:payload></itk:payloads></itk:DistributionEnvelope>
</soap:Body>
</soap:Envelope>
XML
)
echo "tracking id $tracking -> $url"
curl -sS -w '\nHTTP %{http_code}\n' -H 'Content-Type: text/xml; charset=UTF-8' \
     -H "SOAPAction: \"$service\"" --data-binary "$body" "$url"
