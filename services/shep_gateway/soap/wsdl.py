"""The WSDL the gateway serves at ``?wsdl`` for each SOAP channel: one self-contained document (schema inline, so a
client generator needs no second fetch) with the public contract's names — the wrapper elements in
``…/SyncChannel/v10/Types`` or ``…/AsyncChannel/v10/Types``, their children unqualified and in the schema's order,
the shared types of ``…/common/v10/Types``, ``SOAP 1.1`` document/literal with ``soapAction=""``, and the service
and port names clients know (``ISyncChannelHttpService``/``SyncChannelHttpPort``, ``AsyncChannelHttpService``/
``AsyncChannelHttpPort``). Written from the shape public clients use (docs/soap.md), not copied."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

COMMON = "http://bip.bee.kz/common/v10/Types"
_GUID = r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"  # with braces
SYNC_PATH = "/bip-sync-wss-gost/"
ASYNC_PATH = "/bip-async/"

_COMMON_SCHEMA = f"""
    <xs:schema targetNamespace="{COMMON}" xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:simpleType name="guid">
        <xs:restriction base="xs:string">
          <xs:pattern value="{_GUID}"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="SenderInfo">
        <xs:sequence>
          <xs:element name="senderId" type="xs:string"/>
          <xs:element name="password" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Property">
        <xs:sequence>
          <xs:element name="key" type="xs:string"/>
          <xs:element name="value" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="StatusInfo">
        <xs:sequence>
          <xs:element name="code" type="xs:string"/>
          <xs:element name="message" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ErrorInfo">
        <xs:sequence>
          <xs:element name="errorCode" type="xs:string"/>
          <xs:element name="errorMessage" type="xs:string"/>
          <xs:element name="errorData" type="xs:string" minOccurs="0"/>
          <xs:element name="errorDate" type="xs:dateTime"/>
          <xs:element name="subError" type="common:ErrorInfo" minOccurs="0" xmlns:common="{COMMON}"/>
          <xs:element name="sessionId" type="common:guid" minOccurs="0" xmlns:common="{COMMON}"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="MessageData">
        <xs:sequence>
          <xs:element name="data" type="xs:anyType"/>
        </xs:sequence>
      </xs:complexType>
    </xs:schema>"""

_SYNC_SCHEMA = f"""
    <xs:schema targetNamespace="http://bip.bee.kz/SyncChannel/v10/Types" xmlns:xs="http://www.w3.org/2001/XMLSchema"
               xmlns:tns="http://bip.bee.kz/SyncChannel/v10/Types" xmlns:common="{COMMON}">
      <xs:import namespace="{COMMON}"/>
      <xs:complexType name="SyncMessageInfo">
        <xs:sequence>
          <xs:element name="messageId" type="xs:string"/>
          <xs:element name="correlationId" type="xs:string" minOccurs="0"/>
          <xs:element name="serviceId" type="xs:string"/>
          <xs:element name="messageDate" type="xs:dateTime"/>
          <xs:element name="routeId" type="xs:string" minOccurs="0"/>
          <xs:element name="sender" type="common:SenderInfo"/>
          <xs:element name="properties" type="common:Property" minOccurs="0" maxOccurs="unbounded"/>
          <xs:element name="sessionId" type="common:guid" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="SyncMessageInfoResponse">
        <xs:sequence>
          <xs:element name="messageId" type="xs:string"/>
          <xs:element name="correlationId" type="xs:string" minOccurs="0"/>
          <xs:element name="responseDate" type="xs:dateTime"/>
          <xs:element name="status" type="common:StatusInfo"/>
          <xs:element name="sessionId" type="common:guid" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="RequestData">
        <xs:sequence>
          <xs:element name="data" type="xs:anyType" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ResponseData">
        <xs:sequence>
          <xs:element name="data" type="xs:anyType" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="SyncSendMessageRequest">
        <xs:sequence>
          <xs:element name="requestInfo" type="tns:SyncMessageInfo"/>
          <xs:element name="requestData" type="tns:RequestData"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="SyncSendMessageResponse">
        <xs:sequence>
          <xs:element name="responseInfo" type="tns:SyncMessageInfoResponse"/>
          <xs:element name="responseData" type="tns:ResponseData"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="SendMessage">
        <xs:complexType><xs:sequence>
          <xs:element name="request" type="tns:SyncSendMessageRequest" nillable="true"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="SendMessageResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="response" type="tns:SyncSendMessageResponse" nillable="true"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="SendMessageFault1_SendMessageFault" type="common:ErrorInfo" nillable="true"/>
    </xs:schema>"""

_ASYNC_SCHEMA = f"""
    <xs:schema targetNamespace="http://bip.bee.kz/AsyncChannel/v10/Types" xmlns:xs="http://www.w3.org/2001/XMLSchema"
               xmlns:tns="http://bip.bee.kz/AsyncChannel/v10/Types" xmlns:common="{COMMON}">
      <xs:import namespace="{COMMON}"/>
      <xs:simpleType name="MessageType">
        <xs:restriction base="xs:string">
          <xs:enumeration value="REQUEST"/>
          <xs:enumeration value="NOTIFICATION"/>
          <xs:enumeration value="UPDATE"/>
          <xs:enumeration value="RESPONSE"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="AsyncMessageInfo">
        <xs:sequence>
          <xs:element name="messageId" type="xs:string" minOccurs="0"/>
          <xs:element name="correlationId" type="xs:string" minOccurs="0"/>
          <xs:element name="serviceId" type="xs:string"/>
          <xs:element name="messageType" type="tns:MessageType"/>
          <xs:element name="routeId" type="xs:string" minOccurs="0"/>
          <xs:element name="messageDate" type="xs:dateTime"/>
          <xs:element name="sender" type="common:SenderInfo"/>
          <xs:element name="properties" type="common:Property" minOccurs="0" maxOccurs="unbounded"/>
          <xs:element name="sessionId" type="common:guid" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="AsyncSendMessageRequest">
        <xs:sequence>
          <xs:element name="messageInfo" type="tns:AsyncMessageInfo"/>
          <xs:element name="messageData" type="common:MessageData"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="AsyncSendMessageResponse">
        <xs:sequence>
          <xs:element name="messageId" type="xs:string"/>
          <xs:element name="correlationId" type="xs:string"/>
          <xs:element name="responseDate" type="xs:dateTime"/>
          <xs:element name="sessionId" type="common:guid" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="sendMessage">
        <xs:complexType><xs:sequence>
          <xs:element name="request" type="tns:AsyncSendMessageRequest" nillable="true"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="sendMessageResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="response" type="tns:AsyncSendMessageResponse" nillable="true"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="sendMessageFault1_sendMessageFault" type="common:ErrorInfo" nillable="true"/>
    </xs:schema>"""


def _definitions(*, name: str, binding_ns: str, types_ns: str, schema: str, operation: str, request: str,
                 response: str, fault: str, port_type: str, binding: str, service: str, port: str,
                 address: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="{name}" targetNamespace="{binding_ns}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:types="{types_ns}" xmlns:tns="{binding_ns}">
  <wsdl:types>{_COMMON_SCHEMA}{schema}
  </wsdl:types>
  <wsdl:message name="{operation}RequestMsg"><wsdl:part name="{operation}Parameters" element="types:{request}"/>
  </wsdl:message>
  <wsdl:message name="{operation}ResponseMsg"><wsdl:part name="{operation}Result" element="types:{response}"/>
  </wsdl:message>
  <wsdl:message name="{operation}_{operation}FaultMsg"><wsdl:part name="{operation}Fault" element="types:{fault}"/>
  </wsdl:message>
  <wsdl:portType name="{port_type}">
    <wsdl:operation name="{operation}">
      <wsdl:input name="{operation}Request" message="tns:{operation}RequestMsg"/>
      <wsdl:output name="{operation}Response" message="tns:{operation}ResponseMsg"/>
      <wsdl:fault name="{operation}Fault" message="tns:{operation}_{operation}FaultMsg"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="{binding}" type="tns:{port_type}">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="{operation}">
      <soap:operation soapAction="" style="document"/>
      <wsdl:input name="{operation}Request"><soap:body use="literal"/></wsdl:input>
      <wsdl:output name="{operation}Response"><soap:body use="literal"/></wsdl:output>
      <wsdl:fault name="{operation}Fault"><soap:fault name="{operation}Fault" use="literal"/></wsdl:fault>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="{service}">
    <wsdl:port name="{port}" binding="tns:{binding}"><soap:address location={quoteattr(address)}/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def sync_wsdl(address: str) -> str:
    """SyncChannel v10's WSDL with the gateway's address in ``soap:address``."""
    return _definitions(name="ISyncChannel", binding_ns="http://bip.bee.kz/SyncChannel/v10/Interfaces/Binding2",
                        types_ns="http://bip.bee.kz/SyncChannel/v10/Types", schema=_SYNC_SCHEMA,
                        operation="SendMessage", request="SendMessage", response="SendMessageResponse",
                        fault="SendMessageFault1_SendMessageFault", port_type="ISyncChannel",
                        binding="SyncChannelHttpBinding", service="ISyncChannelHttpService",
                        port="SyncChannelHttpPort", address=address)


def async_wsdl(address: str) -> str:
    """AsyncChannel v10's WSDL (the gateway's side: ``sendMessage``) with the gateway's address."""
    return _definitions(name="IAsyncChannel", binding_ns="http://bip.bee.kz/AsyncChannel/v10/Interfaces/Binding",
                        types_ns="http://bip.bee.kz/AsyncChannel/v10/Types", schema=_ASYNC_SCHEMA,
                        operation="sendMessage", request="sendMessage", response="sendMessageResponse",
                        fault="sendMessageFault1_sendMessageFault", port_type="IAsyncChannel",
                        binding="AsyncChannelHttpBinding", service="AsyncChannelHttpService",
                        port="AsyncChannelHttpPort", address=address)
