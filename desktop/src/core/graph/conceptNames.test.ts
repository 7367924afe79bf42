import { describe, expect, it } from 'vitest';
import { normaliseConceptName } from './conceptNames.ts';

const key = (raw: string): string | undefined => normaliseConceptName(raw)?.key;

describe('normaliseConceptName', () => {
  it('merges the variants of one concept on one key', () => {
    const variants = ['Neural nets', 'neural network', 'Neural Networks', 'the neural network', '  NEURAL-NETWORKS ', 'NN', 'neural_net', 'A neural net'];
    expect(new Set(variants.map(key))).toEqual(new Set(['neural network']));
  });

  it('singularises each word with English rules', () => {
    expect(key('networks')).toBe('network');
    expect(key('classes')).toBe('class');
    expect(key('strategies')).toBe('strategy');
    expect(key('analyses')).toBe('analysis');
    expect(key('hypotheses')).toBe('hypothesis');
    expect(key('Data structures')).toBe('data structure');
    expect(key('boxes')).toBe('box');
    expect(key('matrices')).toBe('matrix');
    expect(key('children')).toBe('child');
    expect(key('leaves')).toBe('leaf');
    expect(key('derivatives')).toBe('derivative');
    expect(key('movies')).toBe('movie');
    expect(key('topics')).toBe('topic');
    expect(key('classes of functions')).toBe('class of function');
  });

  it('keeps words that only look plural', () => {
    for (const word of ['bus', 'analysis', 'physics', 'mathematics', 'gas', 'series', 'species', 'news', 'process', 'quantum mechanics', 'status', 'thermodynamics', 'lens', 'chaos']) {
      expect(key(word)).toBe(word);
    }
    expect(key('processes')).toBe('process');
    expect(key('buses')).toBe('bus');
  });

  it('maps common abbreviations to one canonical key', () => {
    expect(key('ML')).toBe('machine learning');
    expect(key('AI')).toBe('artificial intelligence');
    expect(key('LLMs')).toBe('large language model');
    expect(key('llm')).toBe('large language model');
    expect(key('RL')).toBe('reinforcement learning');
    expect(key('SRS')).toBe('spaced repetition');
    expect(key('JS')).toBe('javascript');
    expect(key('ts')).toBe('typescript');
    // Only a whole key is an alias.
    expect(key('ts file')).toBe('ts file');
  });

  it('shows acronyms in capitals but merges them with lowercase spellings', () => {
    expect(normaliseConceptName('DNA replication')).toEqual({ key: 'dna replication', name: 'DNA replication' });
    expect(key('dna replication')).toBe('dna replication');
    expect(normaliseConceptName('GPUs')).toEqual({ key: 'gpu', name: 'GPU' });
    expect(normaliseConceptName('AWS')).toEqual({ key: 'aws', name: 'AWS' });
    expect(normaliseConceptName('Neural Networks')?.name).toBe('neural network');
  });

  it('normalises unicode, punctuation and possessives', () => {
    expect(key('ﬁbonacci numbers')).toBe('fibonacci number');
    expect(key('Newton’s laws')).toBe('newton law');
    expect(key("Newton's Laws")).toBe('newton law');
    expect(key('C++')).toBe('c++');
    expect(key('C#')).toBe('c#');
    expect(key('back---propagation!!')).toBe('back propagation');
    expect(key('Café')).toBe('café');
  });

  it('rejects empty and garbage names', () => {
    expect(normaliseConceptName('')).toBeUndefined();
    expect(normaliseConceptName('   ')).toBeUndefined();
    expect(normaliseConceptName('?!…--')).toBeUndefined();
    expect(normaliseConceptName('++')).toBeUndefined();
    expect(normaliseConceptName('x'.repeat(201))).toBeUndefined();
    // An article alone is a (poor) name, not nothing: dropping it would leave no word.
    expect(key('the')).toBe('the');
  });
});
