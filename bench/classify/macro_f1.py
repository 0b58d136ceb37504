#!/usr/bin/env python3
# macro_f1.py - accuracy and macro-F1 of predicted labels against a
# `label<TAB>text` file, with the same definition otklik's eval uses: the mean
# F1 over every label that occurs in the gold labels or the predictions.
# Usage: macro_f1.py GOLD.tsv PRED.txt   (PRED: one label per line, fastText's
# __label__ prefix allowed).  Prints "accuracy=<a> macro_f1=<f>".
import sys
from collections import Counter


def main():
    gold = [line.split('\t', 1)[0] for line in open(sys.argv[1], encoding='utf-8')]
    pred = [line.strip().split(' ')[0].replace('__label__', '')
            for line in open(sys.argv[2], encoding='utf-8')]
    if len(gold) != len(pred):
        sys.exit('macro_f1.py: %d gold labels but %d predictions' % (len(gold), len(pred)))
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    labels = set(gold) | set(pred)
    f1s = []
    for lab in labels:
        prec = tp[lab] / (tp[lab] + fp[lab]) if tp[lab] + fp[lab] else 0.0
        rec = tp[lab] / (tp[lab] + fn[lab]) if tp[lab] + fn[lab] else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    acc = sum(tp.values()) / len(gold)
    print('accuracy=%.4f macro_f1=%.4f' % (acc, sum(f1s) / len(f1s)))


if __name__ == '__main__':
    main()
