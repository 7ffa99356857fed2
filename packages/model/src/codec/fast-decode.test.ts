import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { domainSpec } from '../domain/spec/domain.ts';
import { readXmlText, xmlText } from '../xml/read.ts';
import { decode, type Warning } from './codec.ts';
import { fastDecode } from './fast-decode.ts';

/** decode(readXml(text)) and fastDecode on the same text: data (with its key order) and warnings. */
function both(xml: string) {
  const text = xmlText(xml);
  const slow: Warning[] = [];
  const expected = decode(readXmlText(text), domainSpec, '/domain', slow);
  const fast: Warning[] = [];
  const actual = fastDecode(text, 64, 'domain', domainSpec, '/domain', fast);
  return { expected, actual, slow, fast };
}

function agrees(xml: string): void {
  const { expected, actual, slow, fast } = both(xml);
  assert.notEqual(actual, undefined, 'the one-pass reader declined a plain document');
  assert.deepEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), 'keys in the same order');
  assert.deepEqual(fast, slow);
}

describe('fastDecode', () => {
  it('reads a plain domain as decode reads the tree', () => {
    agrees(`<?xml version="1.0"?>
<!-- a comment -->
<domain type='kvm'>
  <name>vm &amp; co</name>
  <memory unit='KiB'>1048576</memory>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/><boot dev='cdrom'/></os>
  <devices>
    <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/><readonly/></disk>
    <interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/></interface>
  </devices>
</domain>`);
  });

  it('keeps what the spec does not know, with the same warnings and paths', () => {
    agrees(`<domain type='kvm' zz='1'>
  <name a='b'>n</name>
  <uuid>u</uuid><uuid>again</uuid>
  <weird x='1'>t<inner/>u</weird>
  <memory unit='KiB'>1<b/>2</memory>
  <metadata><app:x xmlns:app='urn:x'>text<y z="&lt;"/></app:x></metadata>
  <devices>
    <disk type='file'><target dev='vda'/><bogus/></disk>
    <disk type='file' q='2'><target dev='vdb'/>stray text</disk>
    <memballoon model='none'/><memballoon model='virtio'/>
  </devices>
  tail text
</domain>`);
  });

  it('joins text split by comments and entities, and drops layout', () => {
    agrees(`<domain type='qemu'><name>a<!-- x -->b&#65;&#x42;</name><description>  </description><title/>
      <devices>   </devices></domain>`);
  });

  it('declines what the tree reader would not take in one pass, leaving the warnings alone', () => {
    for (const xml of ["<domain><name><![CDATA[x]]></name></domain>", "<domain a='1' a='2'/>", "<other/>", '<domain><name>&bogus;</name></domain>']) {
      const into: Warning[] = [];
      assert.equal(fastDecode(xml, 64, 'domain', domainSpec, '/domain', into), undefined, xml);
      assert.deepEqual(into, []);
    }
  });

  it('declines past the depth limit, where the tree reader refuses the document', () => {
    const xml = '<domain><devices><disk></disk></devices></domain>';
    assert.equal(fastDecode(xml, 2, 'domain', domainSpec, '/domain', []), undefined);
    assert.throws(() => readXmlText(xml, { maxDepth: 2 }), /deeper than the limit of 2/);
    assert.notEqual(fastDecode(xml, 3, 'domain', domainSpec, '/domain', []), undefined);
  });
});
