import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { readXml } from './read.ts';

function detail(xml: string, opts = {}): { message: string; path: string | undefined } {
  try {
    readXml(xml, opts);
  } catch (e) {
    assert.ok(e instanceof VirtError);
    assert.equal(e.code, 'XML_DETAIL');
    return { message: e.message, path: e.path };
  }
  assert.fail('expected an error');
}

describe('readXml', () => {
  it('reads a plain document in one pass: attributes, entities, comments, layout dropped', () => {
    const root = readXml(`<?xml version="1.0"?>\n<!-- c --><domain type='kvm' id="1">\n  <name>a &amp; b&#32;&#x41;</name>\n  <x a='&lt;&quot;'/>\n  <t>one<!-- c -->two</t>\n</domain>\n<!-- after -->\n`);
    assert.deepEqual(root, {
      name: 'domain',
      attrs: { type: 'kvm', id: '1' },
      children: [
        { name: 'name', attrs: {}, children: ['a & b A'] },
        { name: 'x', attrs: { a: '<"' }, children: [] },
        { name: 't', attrs: {}, children: ['onetwo'] },
      ],
    });
  });

  it('keeps text beside elements, and whitespace made of a character reference is layout too', () => {
    const root = readXml('<a> x <b/>&#32;<c/> y </a>');
    assert.deepEqual(root.children, [' x ', { name: 'b', attrs: {}, children: [] }, { name: 'c', attrs: {}, children: [] }, ' y ']);
  });

  it('gives the validator its say on what the plain reader leaves: line, column and pointer', () => {
    assert.deepEqual(detail("<domain>\n  <name a='1'b='2'/>\n</domain>"), {
      message: "(domain_definition):2: Attribute 'b' has no space in starting.\n  <name a='1'b='2'/>\n-------------^",
      path: '/ (line 2, column 14)',
    });
    assert.match(detail('<domain><name></domain>').message, /Expected closing tag 'name'/);
    assert.match(detail("<a b='1' b='2'/>").message, /Attribute 'b' is repeated/);
  });

  it('reports an undefined entity at its node, after checking the whole document is well formed', () => {
    assert.deepEqual(detail('<domain><name>&foo;</name></domain>'), { message: "Entity 'foo' not defined", path: '/domain/name' });
    assert.match(detail('<domain><name>&foo;</name><x></domain>').message, /Expected closing tag 'x'/);
  });

  it('refuses nesting deeper than maxDepth', () => {
    assert.match(detail('<a><b><c/></b></a>', { maxDepth: 1 }).message, /deeper than the limit of 1/);
    assert.equal(readXml('<a><b/></a>', { maxDepth: 1 }).children.length, 1);
  });

  it('refuses, as libxml2 does, the unterminated constructs the validator lets through', () => {
    // libxml2's first error (what libvirt reports), at the column xmllint points at.
    const cases: Array<[string, string, string]> = [
      ['<domain/><!--', 'Comment not terminated', '/ (line 1, column 14)'],
      ['<domain/>\n<!-- x', 'Comment not terminated', '/ (line 2, column 7)'],
      ['<a/><!-- x --', 'Double hyphen within comment: <!-- x ', '/ (line 1, column 12)'],
      ['<domain/><![CDATA[', 'Extra content at the end of the document', '/ (line 1, column 10)'],
      ['<a/><!x', 'Extra content at the end of the document', '/ (line 1, column 5)'],
      ['<domain/><a/', 'Extra content at the end of the document', '/ (line 1, column 10)'],
      ['<domain/><?x', 'ParsePI: PI x space expected', '/ (line 1, column 13)'],
      ['<a/><?x y', 'ParsePI: PI x never end ...', '/ (line 1, column 10)'],
      ['<domain><a><?>b/></a></domain>', 'xmlParsePI : no target name', '/ (line 1, column 14)'],
      ['<a/', 'error parsing attribute name', '/ (line 1, column 3)'],
      ['<domain type="kvm"/', 'attributes construct error', '/ (line 1, column 19)'],
      // An end tag with attributes the validator takes for a closing one (it crashed buildTree).
      ["<a><b></c x=''/></b></a>", "expected '>'", '/ (line 1, column 11)'],
      ["<domain type='test'>\n<name>x</name><b></c x=''/></b></domain>", "expected '>'", '/ (line 2, column 22)'],
      ["<a></b x=''/></a>", "expected '>'", '/ (line 1, column 8)'],
    ];
    for (const [text, message, path] of cases) {
      const e = detail(text);
      assert.equal(e.message.split('\n')[0], `(domain_definition):${path.match(/line (\d+)/)![1]}: ${message}`, text);
      assert.equal(e.path, path, text);
    }
    assert.equal(detail('<disk/><!--', { documentName: '(device_definition)' }).message, '(device_definition):1: Comment not terminated\n<disk/><!--\n-----------^');
  });
});
