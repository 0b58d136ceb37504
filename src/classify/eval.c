/*
 * eval.c - scoring a model on a labelled set: accuracy, macro-F1,
 * per-class precision/recall/F1, the confusion matrix and the expected
 * calibration error of the confidences.
 */
#include "classify/classify_int.h"

#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECE_BINS 10

void classify_eval(const struct classifier *c, const struct dataset *d, FILE *report,
                   struct classify_eval *out)
{
    size_t nl = c->n_labels;
    /* confusion[gold * nl + predicted]; unknown gold labels are counted apart. */
    size_t *confusion = xcalloc(nl * nl, sizeof(size_t));
    size_t *unknown_pred = xcalloc(nl, sizeof(size_t));
    double bin_conf[ECE_BINS] = {0}, bin_hit[ECE_BINS] = {0};
    size_t bin_n[ECE_BINS] = {0};
    size_t correct = 0;
    memset(out, 0, sizeof(*out));
    out->n = d->n;
    for (size_t i = 0; i < d->n; i++) {
        const struct example *e = &d->ex[i];
        struct prediction p;
        classifier_predict(c, e->text, e->text_len, &p);
        int gold = model_label_index(c, e->label);
        int pred = model_label_index(c, p.label);
        bool hit = gold == pred;
        if (gold < 0) {
            out->n_unknown++;
            unknown_pred[pred]++;
        } else {
            confusion[(size_t)gold * nl + (size_t)pred]++;
        }
        correct += hit;
        int b = (int)(p.confidence * ECE_BINS);
        b = b >= ECE_BINS ? ECE_BINS - 1 : b;
        bin_conf[b] += p.confidence;
        bin_hit[b] += hit;
        bin_n[b]++;
    }
    out->accuracy = d->n ? (double)correct / (double)d->n : 0;
    for (int b = 0; b < ECE_BINS; b++) {
        if (bin_n[b])
            out->ece += fabs(bin_hit[b] - bin_conf[b]) / (double)(d->n ? d->n : 1);
    }

    double f1_sum = 0;
    size_t n_classes = 0;
    double *prec = xcalloc(nl, sizeof(double));
    double *rec = xcalloc(nl, sizeof(double));
    double *f1 = xcalloc(nl, sizeof(double));
    size_t *support = xcalloc(nl, sizeof(size_t));
    for (size_t k = 0; k < nl; k++) {
        size_t tp = confusion[k * nl + k], pred_k = unknown_pred[k];
        for (size_t g = 0; g < nl; g++) {
            pred_k += confusion[g * nl + k];
            support[k] += confusion[k * nl + g];
        }
        if (support[k] == 0 && pred_k == 0)
            continue; /* a label absent from both sides does not count */
        prec[k] = pred_k ? (double)tp / (double)pred_k : 0;
        rec[k] = support[k] ? (double)tp / (double)support[k] : 0;
        f1[k] = prec[k] + rec[k] > 0 ? 2 * prec[k] * rec[k] / (prec[k] + rec[k]) : 0;
        f1_sum += f1[k];
        n_classes++;
    }
    out->macro_f1 = n_classes ? f1_sum / (double)n_classes : 0;

    if (report) {
        size_t width = 5;
        for (size_t k = 0; k < nl; k++) {
            size_t len = strlen(c->labels[k]);
            width = len > width ? len : width;
        }
        fprintf(report, "examples: %zu", d->n);
        if (out->n_unknown)
            fprintf(report, " (%zu with labels the model does not know)", out->n_unknown);
        fprintf(report, "\n\n%4s  %-*s %9s %9s %9s %8s\n", "#", (int)width, "label", "precision",
                "recall", "f1", "support");
        for (size_t k = 0; k < nl; k++)
            fprintf(report, "%4zu  %-*s %9.4f %9.4f %9.4f %8zu\n", k + 1, (int)width, c->labels[k],
                    prec[k], rec[k], f1[k], support[k]);
        fprintf(report, "\nconfusion matrix (rows: true label, columns: predicted, by # above)\n");
        size_t big = 1;
        for (size_t i = 0; i < nl * nl; i++)
            big = confusion[i] > big ? confusion[i] : big;
        int cw = 1;
        for (size_t v = big > nl ? big : nl; v >= 10; v /= 10)
            cw++;
        fprintf(report, "%4s ", "");
        for (size_t k = 0; k < nl; k++)
            fprintf(report, " %*zu", cw, k + 1);
        fputc('\n', report);
        for (size_t g = 0; g < nl; g++) {
            fprintf(report, "%4zu ", g + 1);
            for (size_t k = 0; k < nl; k++)
                fprintf(report, " %*zu", cw, confusion[g * nl + k]);
            fputc('\n', report);
        }
        fprintf(report, "\ncalibration: expected calibration error %.4f (%d bins)\n", out->ece,
                ECE_BINS);
        fprintf(report, "accuracy=%.4f macro_f1=%.4f\n", out->accuracy, out->macro_f1);
    }
    free(prec);
    free(rec);
    free(f1);
    free(support);
    free(confusion);
    free(unknown_pred);
}

int classify_eval_file(const struct classifier *c, const char *data_path, FILE *report,
                       struct classify_eval *out, struct err_info *err)
{
    struct dataset d;
    int rc = dataset_read(data_path, &d, err);
    if (!rc)
        classify_eval(c, &d, report, out);
    dataset_free(&d);
    return rc;
}
