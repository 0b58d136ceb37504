/*
 * demo_replies.c - what the care centre's operators answer in the demo: a
 * polite greeting, an apology or thanks by kind, a concrete action by topic,
 * and a closing; English for English requests, short technical answers for
 * store staff.  Templates use the syntax of demo_texts.c.
 */
#include "demo/demo_int.h"

static void say(struct demo_rng *r, const struct demo_text_ctx *c, struct buf *out,
                const char *tmpl)
{
    demo_expand(r, c, out, tmpl);
}

static const char *const r_actions[TOPIC_COUNT] = {
    [TOPIC_CHECKOUT_QUEUE] = "[Мы передали информацию директору магазина: в часы пик будет открываться больше касс.|Директор магазина получил ваше обращение и пересмотрел график кассиров на вечерние часы.]",
    [TOPIC_PRODUCT_QUALITY] = "[Мы передали информацию в отдел контроля качества, партию проверят и снимут с продажи.|Стоимость товара вернём на карту, а партию уже проверяет служба качества.]",
    [TOPIC_PRICE] = "[Мы проверили ценники: разницу вернём вам бонусами, ценники в магазине уже обновлены.|Ошибка в цене подтвердилась, переплату вернём на карту в течение 3 рабочих дней.]",
    [TOPIC_OUT_OF_STOCK] = "[Поставка ожидается в ближайшие 1–2 дня, мы передали ваш запрос в отдел закупок.|Товар временно отсутствует у поставщика, мы сообщим, когда он появится.]",
    [TOPIC_DELIVERY] = "[Заказ %O передан курьеру и будет у вас сегодня до 21:00.|Мы уточнили у службы доставки: заказ %O привезут в ближайшие два часа.|Мы разобрались с заказом %O и начислили 300 бонусов в качестве извинения.]",
    [TOPIC_RETURN_REFUND] = "[Возврат оформлен, деньги поступят на карту в течение 3–10 рабочих дней в зависимости от банка.|Мы проверили операцию: возврат отправлен в банк, обычно он занимает до 10 дней.]",
    [TOPIC_LOYALTY] = "[Мы проверили ваш бонусный счёт: бонусы начислены вручную и уже доступны в приложении.|Бонусы восстановлены, а карта разблокирована.]",
    [TOPIC_STAFF] = "[Мы передали ваш отзыв директору магазина, с сотрудником проведут беседу.|Руководство магазина разберёт ситуацию, нам очень жаль, что так вышло.]",
    [TOPIC_STORE_CONDITION] = "[Директор магазина получил ваше сообщение, проблему уже устраняют.|В магазин направлена служба эксплуатации, ситуацию исправят в ближайшее время.]",
    [TOPIC_WEBSITE_APP] = "[Мы передали ошибку разработчикам. Пока попробуйте обновить приложение и перезапустить его.|Ошибку уже исправили, обновите, пожалуйста, приложение до последней версии.]",
    [TOPIC_PAYMENT] = "[Повторное списание — это временная блокировка средств банком, она снимется автоматически в течение 3 дней.|Мы проверили операцию и оформили возврат лишнего списания.]",
    [TOPIC_GRATITUDE] = "[Спасибо за тёплые слова! Обязательно передадим благодарность сотрудникам и руководству магазина.|Нам очень приятно! Ваш отзыв получат сотрудники магазина.]",
    [TOPIC_SUGGESTION] = "[Спасибо за идею! Мы передали её в отдел развития сети.|Отличное предложение, мы обсудим его с коллегами из отдела маркетинга.]",
    [TOPIC_OTHER] = "[Мы передали ваш вопрос в ответственный отдел и вернёмся с ответом.|Информацию передали руководству магазина.]",
};

static const char *const r_answers[TOPIC_COUNT] = {
    [TOPIC_PRICE] = "Актуальные цены и акции всегда видны в приложении в разделе «Акции».",
    [TOPIC_OUT_OF_STOCK] = "По нашим данным, поставка ожидается в течение двух дней.",
    [TOPIC_DELIVERY] = "Заказ %O уже собран, курьер позвонит за час до приезда.",
    [TOPIC_RETURN_REFUND] = "Вернуть товар можно в любом магазине сети по чеку или по карте лояльности, деньги поступят за 3–10 рабочих дней.",
    [TOPIC_LOYALTY] = "Баланс и история бонусов видны в приложении в разделе «Карта»; там же можно перенести бонусы со старой карты, а статус зависит от суммы покупок за три месяца.",
    [TOPIC_WEBSITE_APP] = "Привязать карту можно в приложении: «Профиль» → «Карта лояльности» → «Добавить».",
    [TOPIC_PAYMENT] = "Да, на всех кассах принимаются карты «Мир» и оплата через СБП.",
    [TOPIC_OTHER] = "Информация о магазинах и часах работы есть на сайте в разделе «Магазины».",
};

static const char *const r_internal[] = {
    "Заявка принята, инженер свяжется с магазином в течение часа.",
    "Перезагрузите кассу и проверьте подключение к сети; если не поможет, выезжает техник.",
    "Проблема на стороне поставщика услуги, работаем над восстановлением.",
    "Передали в службу эксплуатации, мастер будет сегодня.",
};

void demo_text_reply(struct demo_rng *r, const struct demo_text_ctx *c, int nth, struct buf *out)
{
    if (c->kind == KIND_INTERNAL) {
        say(r, c, out, nth == 0 ? r_internal[demo_rng_below(r, (int)(sizeof(r_internal) / sizeof(r_internal[0])))] : "[Исправлено, проверьте, пожалуйста.|Работы завершены.|Готово, закрываем заявку.]");
        return;
    }
    if (c->is_english) {
        static const char *const en_replies[KIND_COUNT] = {
            [KIND_QUESTION] = "Hello! Thank you for your question. [Yes, that is possible: just show your loyalty card at the checkout.|You can do it in the app under «Profile».|Our hotline will be happy to help with that.] Have a nice day!",
            [KIND_GRATITUDE] = "Hello! Thank you so much for your kind words, we will pass them on to the store team!",
            [KIND_SUGGESTION] = "Hello! Thank you for the idea, we have shared it with our product team.",
        };
        if (nth > 0)
            say(r, c, out, "[We have resolved the issue, thank you for your patience.|The store manager has fixed the problem. Thank you for your patience!]");
        else if (en_replies[c->kind])
            say(r, c, out, en_replies[c->kind]);
        else
            say(r, c, out, "Hello! Thank you for contacting us. [We are sorry for the inconvenience and have passed your message to the store manager.|We have checked your request and will sort it out today.] Have a nice day!");
        return;
    }
    if (c->first_name && demo_rng_chance(r, 0.8))
        say(r, c, out, "[Здравствуйте|Добрый день], %n! ");
    else
        say(r, c, out, "[Здравствуйте!|Добрый день!] ");
    if (nth > 0 && c->kind == KIND_INCIDENT) {
        say(r, c, out, "[Сообщаем|Спешим сообщить], что [работа магазина полностью восстановлена|неисправность устранена]. [Спасибо за терпение!|Ещё раз приносим извинения.]");
        return;
    }
    if (nth > 0) {
        say(r, c, out, "[Сообщаем|Дополнительно сообщаем], что [вопрос решён|мы связались с магазином и всё проверили|компенсация начислена на вашу карту]. [Спасибо за терпение!|Хорошего дня!|Будем рады видеть вас снова.]");
        return;
    }
    switch (c->kind) {
    case KIND_COMPLAINT:
    case KIND_INCIDENT:
    case KIND_SIGNAL:
        say(r, c, out, "[Приносим извинения за доставленные неудобства.|Нам очень жаль, что так получилось.|Спасибо, что сообщили, и простите за неприятную ситуацию.|Благодарим за обращение и приносим извинения.] ");
        break;
    case KIND_QUESTION:
        say(r, c, out, "[Спасибо за вопрос.|Благодарим за обращение.] ");
        if (r_answers[c->topic]) {
            say(r, c, out, r_answers[c->topic]);
            say(r, c, out, " [Хорошего дня!|Если остались вопросы — пишите, мы на связи.]");
            return;
        }
        break;
    default:
        break;
    }
    if (c->kind == KIND_INCIDENT)
        say(r, c, out, "[Мы уже знаем о проблеме, технические службы работают над её устранением.|Информация передана дежурной службе, специалисты уже на месте.]");
    else if (c->trend == TREND_COLD_STORE)
        say(r, c, out, "Отопление в магазине проверяет служба эксплуатации, температуру в зале поднимут в ближайшие дни.");
    else
        say(r, c, out, r_actions[c->topic] ? r_actions[c->topic] : r_actions[TOPIC_OTHER]);
    say(r, c, out, " [Хорошего дня!|Будем рады видеть вас снова.|Если остались вопросы — пишите, мы на связи.|С уважением, служба заботы о клиентах.]");
}
