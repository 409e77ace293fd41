<?xml version="1.0" encoding="UTF-8"?>
<!-- Our own test data, written from spec/itk2.md §6.1: the NHSD element order and DataChecksum
     spelling, as a received Data file in IN (StatusRecord Event TRANSFER, SUCCESS, code 00). -->
<DTSControl>
  <Version>1.0</Version>
  <AddressType>DTS</AddressType>
  <MessageType>Data</MessageType>
  <From_DTS>RW1DTS001</From_DTS>
  <To_DTS>X26HUB01DTS</To_DTS>
  <Subject>Discharge summary</Subject>
  <LocalId>RW1-0001</LocalId>
  <DTSId>RW1DTS001_20261125093000_000007</DTSId>
  <Compress>N</Compress>
  <Encrypted>N</Encrypted>
  <WorkflowId>TOC_DISCH_DMS</WorkflowId>
  <DataChecksum>6b86b273ff34fce19d6b804eff5a3f57</DataChecksum>
  <IsCompressed>N</IsCompressed>
  <StatusRecord>
    <DateTime>20261125093002</DateTime>
    <Event>TRANSFER</Event>
    <Status>SUCCESS</Status>
    <StatusCode>00</StatusCode>
    <Description>Transferred to recipient mailbox</Description>
  </StatusRecord>
</DTSControl>
