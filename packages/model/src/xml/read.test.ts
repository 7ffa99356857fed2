import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { readXml } from './read.ts';

function detail(xml: string, opts = {}): { message: string; path: string | undefined } {
  try {
    readXml(xml, opts);
  } catch (e) {
    assert.ok(e instanceof VirtError);
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

  it('stops at an unterminated construct the validator lets through instead of looping', () => {
    for (const tail of ['<!--', '<![CDATA[', '<?x', '<a/']) assert.equal(readXml(`<domain/>${tail}`).name, 'domain');
    assert.match(detail('<domain><a><?>b/></a></domain>').message, /missing root element/);
  });
});
