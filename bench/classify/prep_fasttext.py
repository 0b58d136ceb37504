#!/usr/bin/env python3
# prep_fasttext.py - turn a `label<TAB>text` file into fastText's input format,
# with the preprocessing of the data README's baselines: lower case, ё -> е,
# URLs -> url, @mentions -> @user, punctuation split off from words.
# Usage: prep_fasttext.py IN.tsv OUT.txt [--text-only]
import re
import sys

URL = re.compile(r'(https?://\S+|www\.\S+)', re.I)
MENTION = re.compile(r'@\w+')
PUNCT = re.compile(r'([^\w\s@]+)')


def clean(text):
    t = text.lower().replace('ё', 'е')
    t = URL.sub(' url ', t)
    t = MENTION.sub(' @user ', t)
    t = PUNCT.sub(r' \1 ', t)
    return ' '.join(t.split())


def main():
    src, dst = sys.argv[1], sys.argv[2]
    text_only = '--text-only' in sys.argv[3:]
    with open(src, encoding='utf-8') as f, open(dst, 'w', encoding='utf-8') as out:
        for line in f:
            label, _, text = line.rstrip('\n').partition('\t')
            if text_only:
                out.write(clean(text) + '\n')
            else:
                out.write('__label__' + label + ' ' + clean(text) + '\n')


if __name__ == '__main__':
    main()
