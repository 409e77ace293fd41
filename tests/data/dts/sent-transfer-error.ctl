<?xml version="1.0" encoding="UTF-8"?>
<!-- Our own test data, written from spec/itk2.md §6.1: the CIAO shape (DataCheckSum spelling,
     empty optional elements) of a control file the DTS client moved to SENT with a failed
     TRANSFER status record. -->
<DTSControl>
  <Version>1.0</Version>
  <AddressType>DTS</AddressType>
  <MessageType>Data</MessageType>
  <From_DTS>X26HUB01DTS</From_DTS>
  <To_DTS>RW1DTS001</To_DTS>
  <From_ESMTP/>
  <To_ESMTP/>
  <Subject>urn:nhs-itk:services:201005:sendDistEnvelope</Subject>
  <LocalId>5D3C0B8E-7A51-4E2B-9A57-1F0C2B6E9D10</LocalId>
  <DTSId>X26HUB01DTS_20261125101530_000042</DTSId>
  <PartnerId/>
  <Compress>Y</Compress>
  <Encrypted>N</Encrypted>
  <WorkflowId>TOC_DISCH_DMS</WorkflowId>
  <ProcessId/>
  <DataCheckSum>0f343b0931126a20f133d67c2b018a3b</DataCheckSum>
  <IsCompressed>N</IsCompressed>
  <StatusRecord>
    <DateTime>20261125101530</DateTime>
    <Event>TRANSFER</Event>
    <Status>ERROR</Status>
    <StatusCode>05</StatusCode>
    <Description>Transfer error - retry</Description>
  </StatusRecord>
</DTSControl>
