#!/usr/bin/env node
// A SyncChannel client in Node.js, for tests/e2e/test_soap_clients.py: npm's `soap` builds it from the gateway's
// own WSDL (`<sync_url>?wsdl`) and signs the call with its WSSecurityCert (xml-crypto underneath: RSA-SHA256,
// SHA-256 digests, exclusive c14n; the certificate as a BinarySecurityToken; the Body and a wsu:Timestamp
// referenced) using the member's own key and НУЦ certificate. It calls SendMessage once and prints one JSON line.
//
// The gateway's answer — SendMessageResponse or a SOAP fault — is checked here against the gateway's certificate
// as the test pins it (never the certificate the answer carries): xml-crypto validates the references (digests
// over exclusive c14n) and the SignedInfo's signature. The gateway may sign with EC (ecdsa-sha256, r||s), which
// xml-crypto does not ship: EcdsaSha256 below is that algorithm for it, over node's crypto (IEEE P1363 encoding).
// Only rsa-sha256/ecdsa-sha256 and SHA-256 digests are accepted, the Body must be one of the references, and what
// is reported of the answer is read from the signed Body's canonical bytes, not from the document around them.
//
// What node-soap 1.13.0 sends, as is (the gateway takes it without a change): the Body's id is a bare `Id="_0"`
// (xml-crypto's default idMode), not wsu:Id; the Timestamp is unprefixed in the wsu namespace with `Id="_1"`, and
// its reference carries an enveloped-signature transform (a no-op there); ds:Signature is in a default namespace,
// its KeyInfo a SecurityTokenReference to the BinarySecurityToken. node-soap itself checks no signature on answers.
//
//   node client.js --wsdl URL --sender-id ID --password P --iin IIN --key key.pem --cert cert.pem \
//                  --gateway-cert gateway.pem [--service-id gbdfl.person-by-iin]
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { DOMParser } = require('@xmldom/xmldom');
const soap = require('soap');
const { SignedXml } = require('xml-crypto');

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SYNC_TYPES = 'http://bip.bee.kz/SyncChannel/v10/Types';
const XSD = 'http://www.w3.org/2001/XMLSchema';

/** xml-crypto's SignatureAlgorithm for ecdsa-sha256 (verification only): XMLDSig's r||s is IEEE P1363. */
class EcdsaSha256 {
  getSignature() {
    throw new Error('this client only verifies ecdsa-sha256');
  }

  verifySignature(material, key, signatureValue) {
    return crypto.verify('sha256', Buffer.from(material, 'utf8'), { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signatureValue, 'base64'));
  }

  getAlgorithmName() {
    return ECDSA_SHA256;
  }
}

function children(parent, namespace, name) {
  const found = [];
  for (let node = parent && parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1 && node.localName === name && (node.namespaceURI || null) === namespace) found.push(node);
  }
  return found;
}

function all(nodes) {  // xmldom's NodeList is not iterable
  return Array.from({ length: nodes.length }, (_, index) => nodes.item(index));
}

function child(parent, namespace, name) {
  return children(parent, namespace, name)[0] || null;
}

function text(parent, ...path) {  // unqualified children, as the channel's schema has them
  let node = parent;
  for (const name of path) node = child(node, null, name);
  return node ? node.textContent : null;
}

function derBase64(pem) {
  return new crypto.X509Certificate(pem).raw.toString('base64');
}

/** The gateway's signature on `xml` checked with `gatewayPem`; the signed Body (parsed from its canonical form). */
function verifyGateway(xml, gatewayPem) {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const envelope = doc.documentElement;
  const header = child(envelope, SOAP11, 'Header');
  const body = child(envelope, SOAP11, 'Body');
  const security = child(header, WSSE, 'Security');
  const signatures = children(security, DS, 'Signature');
  if (!body) throw new Error('the answer has no soap:Body');
  if (signatures.length !== 1) throw new Error(`the answer has ${signatures.length} ds:Signature in wsse:Security`);
  if (doc.getElementsByTagNameNS(DS, 'Signature').length !== 1) throw new Error('a ds:Signature elsewhere too');
  const bodyId = body.getAttributeNS(WSU, 'Id');
  if (!bodyId) throw new Error('the answer\'s soap:Body has no wsu:Id: it cannot be what was signed');

  const verifier = new SignedXml({ publicCert: gatewayPem });  // pinned: the KeyInfo's certificate is not used
  const hashes = verifier.HashAlgorithms;
  verifier.HashAlgorithms = { [SHA256]: hashes[SHA256] };  // SHA-1 (and anything else) refused
  verifier.SignatureAlgorithms = { [RSA_SHA256]: verifier.SignatureAlgorithms[RSA_SHA256], [ECDSA_SHA256]: EcdsaSha256 };
  verifier.loadSignature(signatures[0]);
  if (verifier.canonicalizationAlgorithm !== EXC_C14N) throw new Error('SignedInfo is not exclusive c14n');
  if (!verifier.checkSignature(xml)) throw new Error('the gateway\'s signature does not verify');
  const references = verifier.getReferences();
  const bodyReference = references.find((ref) => ref.uri === `#${bodyId}`);
  if (!bodyReference || !bodyReference.signedReference) throw new Error('the signature does not cover the Body');
  const signedBody = new DOMParser().parseFromString(bodyReference.signedReference, 'text/xml').documentElement;
  if (signedBody.localName !== 'Body' || signedBody.namespaceURI !== SOAP11) throw new Error('signed: not the Body');
  const keyIdentifier = security.getElementsByTagNameNS(WSSE, 'KeyIdentifier')[0];
  return {
    signedBody,
    report: {
      verified: true,
      signatureMethod: verifier.signatureAlgorithm,
      canonicalization: verifier.canonicalizationAlgorithm,
      digestMethods: [...new Set(references.map((ref) => ref.digestAlgorithm))],
      references: references.length,
      keyIdentifierIsThePinnedCertificate: keyIdentifier
        ? keyIdentifier.textContent.replace(/\s+/g, '') === derBase64(gatewayPem) : null,
    },
  };
}

/** What the WS-Security header node-soap sent looks like (for the test's report, not a check of the gateway's). */
function describeSent(xml) {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const signedInfo = doc.getElementsByTagNameNS(DS, 'SignedInfo')[0];
  const attr = (name) => all(signedInfo.getElementsByTagNameNS(DS, name)).map((node) => node.getAttribute('Algorithm'));
  return {
    signatureMethod: attr('SignatureMethod')[0],
    canonicalization: attr('CanonicalizationMethod')[0],
    digestMethods: [...new Set(attr('DigestMethod'))],
    transforms: [...new Set(attr('Transform'))],
    references: all(signedInfo.getElementsByTagNameNS(DS, 'Reference')).map((ref) => ref.getAttribute('URI')),
    binarySecurityToken: doc.getElementsByTagNameNS(WSSE, 'BinarySecurityToken').length === 1,
    timestamp: doc.getElementsByTagNameNS(WSU, 'Timestamp').length === 1,
  };
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      wsdl: { type: 'string' }, 'sender-id': { type: 'string' }, password: { type: 'string' },
      iin: { type: 'string' }, key: { type: 'string' }, cert: { type: 'string' }, 'gateway-cert': { type: 'string' },
      'service-id': { type: 'string', default: 'gbdfl.person-by-iin' },
    },
    strict: true,
  });
  for (const name of ['wsdl', 'sender-id', 'password', 'iin', 'key', 'cert', 'gateway-cert']) {
    if (!args[name]) throw new Error(`--${name} is required`);
  }
  const gatewayPem = fs.readFileSync(args['gateway-cert'], 'utf8');
  const client = await soap.createClientAsync(args.wsdl);
  client.setSecurity(new soap.WSSecurityCert(fs.readFileSync(args.key, 'utf8'), fs.readFileSync(args.cert, 'utf8'),
    '', { signatureAlgorithm: RSA_SHA256, digestAlgorithm: SHA256 }));
  const request = {
    requestInfo: {
      messageId: crypto.randomUUID(),
      serviceId: args['service-id'],
      messageDate: new Date().toISOString(),
      sender: { senderId: args['sender-id'], password: args.password },
    },
    requestData: {  // xs:anyType holding JSON text: xsi:type="xs:string", as ШЭП's clients send it
      data: {
        attributes: { xsi_type: { type: 'string', xmlns: XSD, prefix: 'xs' } },
        $value: JSON.stringify({ iin: args.iin }),
      },
    },
  };
  const out = {};
  let raw;
  try {
    const [result, rawResponse] = await client.SendMessageAsync({ request });
    raw = rawResponse;
    const info = result.response.responseInfo;
    const data = result.response.responseData.data;
    out.outcome = 'answered';
    out.parsed = { code: info.status.code, data: typeof data === 'object' && data !== null ? data.$value : data };
  } catch (error) {
    if (!error.root || !error.body) throw error;  // not a SOAP fault: let it show
    raw = error.body;
    const fault = error.root.Envelope.Body.Fault;
    out.outcome = 'fault';
    out.parsed = { faultcode: fault.faultcode, faultstring: fault.faultstring, httpStatus: error.response?.status };
  }
  out.sent = describeSent(client.lastRequest);
  const { signedBody, report } = verifyGateway(raw, gatewayPem);
  out.gatewaySignature = report;
  const answer = child(signedBody, SYNC_TYPES, 'SendMessageResponse');
  const fault = child(signedBody, SOAP11, 'Fault');
  if (answer) {
    const response = child(answer, null, 'response');
    out.signed = { code: text(response, 'responseInfo', 'status', 'code'),
      data: JSON.parse(text(response, 'responseData', 'data')) };
  } else if (fault) {
    const info = child(child(fault, null, 'detail'), SYNC_TYPES, 'SendMessageFault1_SendMessageFault');
    out.signed = { faultcode: text(fault, 'faultcode'), faultstring: text(fault, 'faultstring'),
      errorCode: text(info, 'errorCode') };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((error) => {
    process.stdout.write(`${JSON.stringify({ outcome: 'error', error: String(error && error.stack || error) })}\n`);
    process.exitCode = 1;
  });
}

module.exports = { verifyGateway };
