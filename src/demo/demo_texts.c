/*
 * demo_texts.c - Russian (and a little English) customer language for the
 * demo requests and the operators' replies.  Each text is composed from
 * per-topic pools of openings, bodies, details and closings; the pool entries
 * are small templates expanded by expand() below, so that 50,000 requests
 * read like 50,000 different people wrote them.
 *
 * Template syntax: [a|b|c] picks one at random (nesting allowed), {m|f}
 * agrees with the writer's gender, %x inserts a detail (see placeholder()),
 * %% is a literal percent sign.
 */
#include "demo/demo_int.h"

#include <stdio.h>
#include <string.h>

const char *const demo_channel_names[CH_COUNT] = {
    "phone", "callback", "web", "chat", "email", "telegram", "viber", "vk",
    "whatsapp", "sms", "qr", "app", "review", "social", "internal",
};

const char *const demo_kind_names[KIND_COUNT] = {
    "complaint", "question", "gratitude", "suggestion", "signal", "incident", "internal",
};

const char *const demo_topic_names[TOPIC_COUNT] = {
    "checkout_queue", "product_quality", "price", "out_of_stock", "delivery",
    "return_refund", "loyalty", "staff", "store_condition", "website_app",
    "payment", "gratitude", "suggestion", "other",
};

struct pool {
    const char *const *v;
    int n;
};

#define POOL(a) {(a), (int)(sizeof(a) / sizeof((a)[0]))}
#define NOPOOL {NULL, 0}

/* ---- details ----------------------------------------------------------- */

struct product {
    const char *nom, *acc, *gen; /* nominative, accusative, genitive */
};

static const struct product products[] = {
    {"молоко", "молоко", "молока"}, {"творог", "творог", "творога"},
    {"курица", "курицу", "курицы"}, {"кефир", "кефир", "кефира"},
    {"хлеб", "хлеб", "хлеба"}, {"сметана", "сметану", "сметаны"},
    {"сыр", "сыр", "сыра"}, {"колбаса", "колбасу", "колбасы"},
    {"йогурт", "йогурт", "йогурта"}, {"сливочное масло", "сливочное масло", "сливочного масла"},
    {"яйца", "яйца", "яиц"}, {"фарш", "фарш", "фарша"},
    {"рыба", "рыбу", "рыбы"}, {"салат «Цезарь»", "салат «Цезарь»", "салата «Цезарь»"},
    {"бананы", "бананы", "бананов"}, {"помидоры", "помидоры", "помидоров"},
    {"огурцы", "огурцы", "огурцов"}, {"клубника", "клубнику", "клубники"},
    {"торт", "торт", "торта"}, {"пельмени", "пельмени", "пельменей"},
    {"сосиски", "сосиски", "сосисок"}, {"детское питание", "детское питание", "детского питания"},
    {"кофе", "кофе", "кофе"}, {"шоколад", "шоколад", "шоколада"},
    {"питьевая вода", "питьевую воду", "питьевой воды"}, {"апельсиновый сок", "апельсиновый сок", "апельсинового сока"},
    {"гречка", "гречку", "гречки"}, {"макароны", "макароны", "макарон"},
    {"куриное филе", "куриное филе", "куриного филе"}, {"ряженка", "ряженку", "ряженки"},
    {"виноград", "виноград", "винограда"}, {"мандарины", "мандарины", "мандаринов"},
    {"сёмга", "сёмгу", "сёмги"}, {"батон", "батон", "батона"},
    {"сырки", "сырки", "сырков"}, {"котлеты", "котлеты", "котлет"},
    {"овсяное молоко", "овсяное молоко", "овсяного молока"}, {"пицца", "пиццу", "пиццы"},
    {"кабачки", "кабачки", "кабачков"}, {"круассаны", "круассаны", "круассанов"},
};
#define N_PRODUCTS ((int)(sizeof(products) / sizeof(products[0])))

static const char *const areas[] = {
    "в молочном отделе", "у касс самообслуживания", "в овощном отделе", "в отделе кулинарии",
    "у входа", "в мясном отделе", "в торговом зале", "в рыбном отделе", "возле пекарни",
    "в отделе бытовой химии", "у холодильников с заморозкой", "возле камер хранения",
    "в хлебном отделе", "в отделе детского питания", "у стеллажей с напитками",
};

static const char *const days[] = {
    "вчера", "сегодня", "позавчера", "в субботу", "в воскресенье", "в пятницу", "на днях",
    "в понедельник", "вчера вечером", "сегодня утром",
};

/* Staff first names in three cases: nominative, accusative, dative. */
static const char *const staff_names[][3] = {
    {"Ольга", "Ольгу", "Ольге"}, {"Марина", "Марину", "Марине"},
    {"Светлана", "Светлану", "Светлане"}, {"Наталья", "Наталью", "Наталье"},
    {"Екатерина", "Екатерину", "Екатерине"}, {"Ирина", "Ирину", "Ирине"},
    {"Татьяна", "Татьяну", "Татьяне"}, {"Елена", "Елену", "Елене"},
    {"Гульнара", "Гульнару", "Гульнаре"}, {"Айгуль", "Айгуль", "Айгуль"},
    {"Анастасия", "Анастасию", "Анастасии"}, {"Людмила", "Людмилу", "Людмиле"},
    {"Валентина", "Валентину", "Валентине"}, {"Диана", "Диану", "Диане"},
    {"Юлия", "Юлию", "Юлии"},
};
#define N_STAFF_NAMES ((int)(sizeof(staff_names) / sizeof(staff_names[0])))

struct expander {
    struct demo_rng *r;
    const struct demo_text_ctx *c;
    struct buf *out;
    int product; /* one product per text, so every mention agrees */
    int staff;   /* one staff member per text, likewise */
};

static const char *pick(struct demo_rng *r, const char *const *v, int n)
{
    return v[demo_rng_below(r, n)];
}

#define PICK(r, a) pick((r), (a), (int)(sizeof(a) / sizeof((a)[0])))

static void expand(struct expander *e, const char *s, size_t len);

static void expand_cstr(struct expander *e, const char *s)
{
    expand(e, s, strlen(s));
}

static void put_money(struct expander *e)
{
    int rub = (int)demo_rng_range(e->r, 89, 6500);
    switch (demo_rng_below(e->r, 4)) {
    case 0:
        buf_printf(e->out, "%d руб.", rub);
        break;
    case 1:
        buf_printf(e->out, "%d,%02d ₽", rub, (int)demo_rng_range(e->r, 0, 99));
        break;
    case 2:
        buf_printf(e->out, "%d рублей", rub - rub % 10);
        break;
    default:
        buf_printf(e->out, "%d р", rub);
        break;
    }
}

/* One detail for %x: products in three cases, places, times, amounts. */
static void placeholder(struct expander *e, char x)
{
    struct demo_rng *r = e->r;
    const struct demo_text_ctx *c = e->c;
    switch (x) {
    case 'p':
        buf_puts(e->out, products[e->product].nom);
        break;
    case 'a':
        buf_puts(e->out, products[e->product].acc);
        break;
    case 'g':
        buf_puts(e->out, products[e->product].gen);
        break;
    case 'A':
        buf_puts(e->out, PICK(r, areas));
        break;
    case 'D':
        buf_puts(e->out, PICK(r, days));
        break;
    case 'H':
        buf_printf(e->out, "%d:%02d", (int)demo_rng_range(r, 8, 22),
                   (int)demo_rng_range(r, 0, 11) * 5);
        break;
    case 'T':
        expand_cstr(e, "[%D около %H|%D [утром|днём|вечером]|%D в %H|сегодня около %H]");
        break;
    case 'N':
        buf_printf(e->out, "%d", (int)demo_rng_range(r, 10, 45));
        break;
    case 'Q':
        buf_printf(e->out, "%d", (int)demo_rng_range(r, 6, 18));
        break;
    case 'd':
        buf_printf(e->out, "%d", (int)demo_rng_range(r, 5, 20));
        break;
    case 'k':
        buf_printf(e->out, "%d", (int)demo_rng_range(r, 1, 12));
        break;
    case 'B':
        buf_printf(e->out, "%d", (int)demo_rng_range(r, 5, 300) * 10);
        break;
    case 'M':
        put_money(e);
        break;
    case 'O':
        buf_puts(e->out, c->order_id ? c->order_id : "без номера");
        break;
    case 'S': /* where the store is, in a form that fits after "в магазине" */
        if (!c->store_address || demo_rng_chance(r, 0.3))
            buf_printf(e->out, "«%s»", c->store_name ? c->store_name : "Магазин у дома");
        else
            buf_printf(e->out, "%s %s",
                       strncmp(c->store_address, "ул. ", strlen("ул. ")) == 0 && demo_rng_chance(r, 0.5)
                           ? "на" : "по адресу",
                       c->store_address);
        break;
    case 's':
        buf_puts(e->out, c->store_name ? c->store_name : "магазин");
        break;
    case 'C':
        buf_puts(e->out, c->city ? c->city : "нашем городе");
        break;
    case 'K':
        buf_puts(e->out, staff_names[e->staff][0]);
        break;
    case 'J':
        buf_puts(e->out, staff_names[e->staff][1]);
        break;
    case 'L':
        buf_puts(e->out, staff_names[e->staff][2]);
        break;
    case 'n':
        buf_puts(e->out, c->first_name ? c->first_name : "");
        break;
    case '!': {
        static const char *const ends[] = {".", ".", ".", "!", "!", "!!!", "!!", "(((", "((",
                                           " :(", "...", "!!!!", ". Безобразие!"};
        buf_puts(e->out, PICK(r, ends));
        break;
    }
    case '%':
        buf_putc(e->out, '%');
        break;
    default:
        buf_putc(e->out, '%');
        buf_putc(e->out, x);
        break;
    }
}

/* Expand one template slice into e->out. */
static void expand(struct expander *e, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char ch = s[i];
        if (ch == '[' || ch == '{') {
            size_t opts[24];
            int n = 0, depth = 0;
            size_t j;
            opts[n++] = i + 1;
            for (j = i + 1; j < len; j++) {
                char d = s[j];
                if (d == '[' || d == '{') {
                    depth++;
                } else if (d == ']' || d == '}') {
                    if (depth == 0)
                        break;
                    depth--;
                } else if (d == '|' && depth == 0 && n < 24) {
                    opts[n++] = j + 1;
                }
            }
            int k;
            if (ch == '[')
                k = demo_rng_below(e->r, n);
            else
                k = e->c->is_female && n > 1 ? 1 : 0;
            size_t start = opts[k];
            size_t end = k + 1 < n ? opts[k + 1] - 1 : j;
            expand(e, s + start, end - start);
            i = j + 1;
        } else if (ch == '%' && i + 1 < len) {
            placeholder(e, s[i + 1]);
            i += 2;
        } else {
            size_t j = i;
            while (j < len && s[j] != '[' && s[j] != '{' && s[j] != '%')
                j++;
            buf_put(e->out, s + i, j - i);
            i = j;
        }
    }
}

static void expand_pool(struct expander *e, struct pool p)
{
    if (p.n > 0)
        expand_cstr(e, p.v[demo_rng_below(e->r, p.n)]);
}

/* ---- complaints -------------------------------------------------------- */

static const char *const c_queue[] = {
    "[Стоял{|а}|Простоял{|а}] в очереди на кассе %N минут, [работала одна касса|открыта была только одна касса|из восьми касс работали две]%!",
    "%T в магазине %S [огромная очередь|очередь до середины зала], человек %Q, а кассир всего один%!",
    "Почему у вас постоянно очереди? Кассы самообслуживания [не работают|отключены|наполовину не работают], на обычной кассе [человек %Q|толпа]%!",
    "Заш{ёл|ла} за %g, а в итоге [полчаса|%N минут] простоял{|а} в очереди. [Просили позвать администратора — никто не пришёл.|Просили открыть вторую кассу — нам отказали.|Сотрудники ходили мимо и делали вид, что не видят.]",
    "Очередь на кассе [в час пик|вечером|в выходные] — это уже норма в вашем магазине %S. %D ждал{|а} %N минут с одной бутылкой воды%!",
    "Кассы самообслуживания [постоянно зависают|не принимают карты|требуют администратора на каждом товаре], а администратора не дозовёшься. Потерял{|а} %N минут%!",
    "Во время [обеда|вечернего часа пик] работали две кассы из [шести|восьми|десяти], очередь дошла до [молочного отдела|хлебного отдела|середины зала]%!",
    "С ребёнком на руках [стояла|пришлось стоять] в очереди %N минут, никто даже не предложил пропустить. Откройте ещё кассы%!",
    "Опять одна касса на весь магазин. Я просто оставил{|а} корзину с %g и уш{ёл|ла}%!",
};

static const char *const c_quality[] = {
    "Купил{|а} %a %D, дома обнаружил{|а}, что [срок годности истёк ещё три дня назад|внутри плесень|запах кислый|упаковка вздута]%!",
    "[Уже второй раз|Который раз] беру у вас %a и [выбрасываю|приходится выбрасывать]: [вкус горький|всё испорчено|неприятный запах]%!",
    "На ценнике одна дата, а на упаковке %g другая — этикетки [явно перебиты|переклеены]%!",
    "Отравил{ся|ась}, купив %a в вашем магазине %S. Чек сохранил{|а}, [требую вернуть деньги|прошу проверить партию]%!",
    "Внутри упаковки %g [наш{ёл|ла} волос|был кусок пластика|оказалась косточка]. Как такое вообще продаётся?!",
    "Салаты в отделе кулинарии [заветренные|лежат с утра без холодильника], взял{|а} один — есть невозможно%!",
    "[Бананы чёрные|Помидоры мятые|Клубника в плесени|Виноград осыпается], [выбрать нечего|половину пришлось выбросить]%!",
    "Открыл{|а} дома %a — [прокисло|испорчено|воняет], а срок годности ещё [неделю|пять дней]. Видимо, нарушали хранение%!",
    "Ребёнок отказался есть %a: [горький вкус|странный запах]. Купил{|а} %T%!",
};

static const char *const c_price[] = {
    "На ценнике за %a указано %M, а на кассе пробили [дороже|на 40 рублей больше|другую цену]%!",
    "Акция [«2 по цене 1»|со скидкой 30%%|по жёлтым ценникам] на %a не сработала на кассе, а ценник висит до сих пор%!",
    "Ценники %A [не соответствуют товару|перепутаны], пришлось идти разбираться на кассу%!",
    "Почему %p у вас на [20|30|50]%% дороже, чем [в соседнем магазине|на сайте|в приложении]?",
    "Пробили %a дважды, заметил{|а} только дома. Переплата %M%!",
    "Цена на полке со скидкой, на кассе без скидки. Уже не первый раз%!",
    "В чеке %p стоит дороже, чем на ценнике. Разница небольшая, но [это обман|так делать нельзя]%!",
};

static const char *const c_stock[] = {
    "[Третий день|Уже неделю|Который раз] нет %g в магазине %S%!",
    "Пустые полки %A, не было ни %g, ни [хлеба|яиц|нормальных овощей]%!",
    "В приложении %p есть в наличии, приехал{|а} — нет. Зачем писать неправду%!",
    "Заказал{|а} онлайн, а при сборке сказали, что %g нет. [Почему нельзя предупредить сразу?|Замену никто не предложил.]",
    "Вечером %A пусто, ни %g, ни нормального выбора. Приходится ехать в другой магазин%!",
    "Рекламируете акцию на %a, а на полке [пусто|ни одной упаковки]%!",
};

static const char *const c_delivery[] = {
    "Заказ %O должны были привезти %D [к 18:00|до обеда|в интервал 10–12], курьера до сих пор нет%!",
    "Где мой заказ %O? Статус «в пути» [уже пять часов|с утра|второй день]%!",
    "Курьер привёз заказ %O [на два часа позже|без половины товаров|с помятыми продуктами]%!",
    "По заказу %O не хватает %g, а оплачено всё. Верните деньги%!",
    "Интервал доставки сдвинули без предупреждения, заказ %O [перенесли на завтра|так и не приехал]%!",
    "Курьер не позвонил и оставил заказ %O у двери, [заморозка растаяла|пакеты порвались]%!",
    "Заказ %O [собирали|везли] так долго, что %p [приехал тёплым|испортился]... Больше не закажу%!",
    "Вместо %g в заказе %O положили что-то совсем другое, замену со мной никто не согласовал%!",
};

static const char *const c_delivery_spike[] = {
    "Заказ %O опаздывает уже [на три часа|на полдня|на сутки], в поддержке говорят про «высокую загрузку»%!",
    "Второй день жду заказ %O. Что у вас происходит с доставкой в %C?!",
    "Доставка в %C просто встала: заказ %O [перенесли уже дважды|висит в статусе «задерживается»]%!",
    "Заказ %O так и не привезли, курьеры не берут трубку. У соседей та же история%!",
    "Сколько можно? Заказ %O задерживается, а продукты мне нужны сегодня%!",
};

static const char *const c_refund[] = {
    "Сдал{|а} товар [неделю|десять дней] назад, а деньги на карту так и не вернулись%!",
    "На кассе отказались принять возврат %g без чека, хотя покупка [есть в приложении|прошла по карте лояльности]%!",
    "Возврат за %a [оформили|одобрили], но деньги не пришли уже %d дней%!",
    "Хочу вернуть [бракованный чайник|сломанный фен|неподошедшую сковороду], в магазине %S отправляют [в сервисный центр|на горячую линию]%!",
    "При возврате %g вернули меньше, чем я заплатил{|а}: списали бонусы, но не вернули их%!",
};

static const char *const c_loyalty[] = {
    "Не начислились бонусы за покупку %D на %M%!",
    "Списались %B бонусов, хотя я ими не расплачивал{ся|ась}%!",
    "Карта лояльности не считывается на кассе, [уже третий раз|кассир говорит, что карта заблокирована]%!",
    "Персональные предложения в приложении не применяются на кассе, скидку на %a не дали%!",
    "Бонусы сгорели без предупреждения, было %B баллов%!",
    "Уже месяц не могу получить новую карту взамен потерянной, на кассе говорят [«ждите»|«обращайтесь на горячую линию»]%!",
};

static const char *const c_staff[] = {
    "Кассир [нахамил|грубо ответил|накричал] [мне|на пожилую женщину передо мной] %T%!",
    "Охранник ходил за мной по всему залу, как за {вором|воровкой}. [Очень неприятно|Унизительно]%!",
    "Сотрудники %A громко обсуждали покупателей и [не помогли найти товар|отмахнулись от вопроса]%!",
    "Продавец-консультант [отказался|не стал] помочь найти %a, сказал «ищите сами»%!",
    "Кассир %K [разговаривала по телефону|жевала] во время обслуживания, [сдачу бросила на ленту|даже не поздоровалась]%!",
    "Администратор магазина %S отказался разговаривать и ушёл в подсобку%!",
};

static const char *const c_condition[] = {
    "Грязный пол %A, [разлито что-то липкое|лужи у входа|мусор в проходах]%!",
    "В магазине %S холодно, [покупатели ходят в куртках|кассиры сидят в пуховиках]%!",
    "Тележки [грязные|сломанные], корзин у входа нет%!",
    "В зале [ужасный запах|пахнет канализацией|очень душно] %A%!",
    "Не работает [кондиционер|эскалатор|лифт на парковку], [жарко невозможно|с коляской не подняться]%!",
    "Коробки с товаром стоят в проходах %A, [не пройти с тележкой|чуть не упал{|а}]%!",
    "Над кассами [мигают лампы|капает с потолка], [неприятно находиться|никто не обращает внимания]%!",
};

static const char *const c_cold[] = {
    "Опять холодно в магазине %S%!",
    "В зале холодно, [руки мёрзнут|изо рта пар|по ощущениям градусов двенадцать]. Когда включите отопление?",
    "Сколько можно? Холодно в магазине уже [которую неделю|третью неделю|целый месяц]%!",
    "Двери на входе не закрываются, в магазине холодно как на улице%!",
    "Кассиры сидят в куртках, покупатели мёрзнут. Холодно в магазине %S%!",
    "Заш{ёл|ла} за %g и [замёрз|замёрзла], пока дош{ёл|ла} до кассы. Почините отопление%!",
};

static const char *const c_app[] = {
    "Приложение [вылетает|не открывается|зависает] при [оплате|оформлении заказа|входе]%!",
    "На сайте не получается [оформить заказ|применить промокод|выбрать время доставки], [выдаёт ошибку|белый экран]%!",
    "Не приходит СМС с кодом для входа в приложение, пробовал{|а} [пять раз|весь вечер]%!",
    "В приложении не отображается [история покупок|баланс бонусов|электронный чек]%!",
    "Корзина на сайте [очищается сама|не сохраняется], собирал{|а} заказ %N минут%!",
    "После обновления приложение [требует заново регистрироваться|не видит мою карту]%!",
};

static const char *const c_payment[] = {
    "На кассе [дважды списали|списали два раза] %M, [банк|выписка] показывает две операции%!",
    "Не проходит оплата по [СБП|QR-коду|карте «Мир»] на кассах самообслуживания%!",
    "Оплатил{|а} заказ в приложении, а деньги [списали дважды|списали, но заказ отменили]%!",
    "Терминал [не работал|завис], пришлось платить наличными, а их у меня не было%!",
    "Чек не выдали, а деньги списали. Как теперь что-то доказать%!",
};

static const char *const c_other[] = {
    "Парковка у магазина %S [забита|не чистится от снега|без освещения]%!",
    "Громкая музыка в зале, невозможно [разговаривать|сосредоточиться на покупках]%!",
    "Не могу дозвониться на горячую линию [второй день|уже час]%!",
    "Рекламные СМС приходят [по ночам|каждый день], хотя я отписал{ся|ась}%!",
    "У входа в магазин %S [курят|стоят попрошайки|разбросан мусор], никто не следит%!",
};

static const struct pool complaint_pools[TOPIC_COUNT] = {
    [TOPIC_CHECKOUT_QUEUE] = POOL(c_queue),   [TOPIC_PRODUCT_QUALITY] = POOL(c_quality),
    [TOPIC_PRICE] = POOL(c_price),            [TOPIC_OUT_OF_STOCK] = POOL(c_stock),
    [TOPIC_DELIVERY] = POOL(c_delivery),      [TOPIC_RETURN_REFUND] = POOL(c_refund),
    [TOPIC_LOYALTY] = POOL(c_loyalty),        [TOPIC_STAFF] = POOL(c_staff),
    [TOPIC_STORE_CONDITION] = POOL(c_condition), [TOPIC_WEBSITE_APP] = POOL(c_app),
    [TOPIC_PAYMENT] = POOL(c_payment),        [TOPIC_GRATITUDE] = NOPOOL,
    [TOPIC_SUGGESTION] = NOPOOL,              [TOPIC_OTHER] = POOL(c_other),
};

static const char *const c_extras[] = {
    "Это уже не первый раз.", "Чек сохранил{|а}.", "Фото прикладываю.",
    "Я ваш постоянный покупатель уже [пять|семь|десять] лет.", "Очень разочарован{|а}.",
    "Раньше такого не было.", "Магазин рядом с домом, поэтому и хожу, но это край.",
    "Настроение испорчено на весь день.", "Со мной был ребёнок.",
    "Позвонил{|а} на горячую линию — [никто не ответил|сказали написать сюда].",
    "[Мама|Соседка|Муж|Жена] [говорит|рассказывала], что у неё было то же самое.",
};

static const char *const c_demands[] = {
    "Прошу разобраться%!", "Жду ответа.", "Примите меры%!", "Сколько можно?!",
    "Надеюсь на ответ.", "Прошу вернуть деньги.", "Хочу компенсацию.", "Разберитесь, пожалуйста.",
    "Требую ответа от руководства%!", "Очень прошу навести порядок.", "Иначе пишу в Роспотребнадзор%!",
    "Передайте директору магазина.", "Надеюсь, это исправят.",
};

/* ---- questions, gratitude, suggestions ---------------------------------- */

static const char *const q_price[] = {
    "Будет ли в этом месяце акция на %a?",
    "Почему цена на %a в приложении и в магазине разная? Какая правильная?",
    "Подскажите, действуют ли скидки для пенсионеров в магазине %S?",
};
static const char *const q_stock[] = {
    "Когда будет поставка %g в магазин %S?",
    "Можно ли отложить %a, когда привезут? Очень нужно.",
    "Подскажите, будет ли снова в продаже %p?",
};
static const char *const q_delivery[] = {
    "Можно ли изменить время доставки заказа %O на [вечер|завтра утро|другой день]?",
    "Подскажите, когда приедет заказ %O? В приложении статус не меняется.",
    "Можно ли добавить %a в уже оформленный заказ %O?",
    "Курьер может позвонить за час до приезда? Заказ %O.",
};
static const char *const q_refund[] = {
    "Как вернуть товар, купленный онлайн?",
    "Сколько дней идёт возврат денег на карту? Сдал{|а} %a %D.",
    "Можно ли вернуть %a без чека, если покупка есть в приложении?",
};
static const char *const q_loyalty[] = {
    "Как перенести бонусы со старой карты на новую?",
    "Сколько бонусов у меня на карте? В приложении не вижу.",
    "Как получить серебряный статус и что он даёт?",
    "Можно ли оплатить бонусами всю покупку целиком?",
    "Когда сгорают бонусы, начисленные [в прошлом месяце|по акции]?",
};
static const char *const q_app[] = {
    "Как привязать карту лояльности в приложении?",
    "Почему в приложении не видно электронных чеков?",
    "Можно ли в приложении выбрать конкретный магазин для самовывоза?",
};
static const char *const q_payment[] = {
    "Можно ли у вас оплатить через СБП?",
    "Принимаете ли вы карты «Мир» на кассах самообслуживания?",
    "Можно ли оплатить заказ при получении картой?",
};
static const char *const q_other[] = {
    "Есть ли вакансии кассира в магазине %S?",
    "До скольки работает магазин %S в праздники?",
    "Есть ли в магазине %S пункт выдачи заказов?",
    "Можно ли заказать у вас [торт|праздничную нарезку|фруктовую корзину] к [юбилею|дню рождения]?",
};

static const struct pool question_pools[TOPIC_COUNT] = {
    [TOPIC_PRICE] = POOL(q_price),       [TOPIC_OUT_OF_STOCK] = POOL(q_stock),
    [TOPIC_DELIVERY] = POOL(q_delivery), [TOPIC_RETURN_REFUND] = POOL(q_refund),
    [TOPIC_LOYALTY] = POOL(q_loyalty),   [TOPIC_WEBSITE_APP] = POOL(q_app),
    [TOPIC_PAYMENT] = POOL(q_payment),   [TOPIC_OTHER] = POOL(q_other),
};

static const char *const g_bodies[] = {
    "Хочу поблагодарить кассира %J из магазина %S — [очень вежливая|помогла донести сумки|быстро и с улыбкой обслужила]%!",
    "Спасибо курьеру: привёз всё [вовремя|на 20 минут раньше|аккуратно], продукты свежие)",
    "Отличный магазин %S! Всегда свежие овощи и выпечка, [чисто|приятный персонал]. Спасибо)",
    "Благодарю администратора за помощь: [нашли мой потерянный кошелёк|вернули забытый телефон|быстро оформили возврат]. Спасибо огромное%!",
    "Очень понравилась новая [пекарня|кулинария|зона самообслуживания] в магазине %S, спасибо%!",
    "Спасибо сотрудникам %A: помогли найти %a и подсказали про акцию)",
    "Большое спасибо кассиру %L! Заметила, что мне пробили лишнее, и сама всё исправила.",
    "Хожу в ваш магазин %S каждый день — спасибо за [порядок|вежливость|свежий хлеб по утрам]))",
    "Спасибо, что [быстро решили вопрос с возвратом|начислили бонусы за задержку|перезвонили сразу]. Приятно удивлен{|а}!",
};

static const char *const s_bodies[] = {
    "Предлагаю [поставить больше касс самообслуживания|открывать ещё одну кассу в час пик|сделать экспресс-кассу для покупок до 5 товаров].",
    "Было бы здорово добавить в ассортимент [безлактозное молоко|овсяное молоко|больше фермерских продуктов|товары без глютена].",
    "Сделайте, пожалуйста, [пандус у входа|скамейку у касс|зарядку для телефонов|комнату матери и ребёнка] в магазине %S.",
    "Предложение по приложению: [добавьте тёмную тему|покажите наличие в конкретном магазине|сделайте общий список покупок для семьи].",
    "Почему бы не сделать доставку [с интервалом в один час|в день заказа|по ночам] в %C?",
    "Продавайте %a на развес, а не только в упаковке — [так удобнее|меньше пластика].",
    "Поставьте у входа автомат для сбора [батареек|пластиковых бутылок], многие бы пользовались.",
    "Можно ли вернуть [старые пакеты|бумажные пакеты|корзины на колёсиках]? Новые [рвутся|неудобные].",
};

/* ---- short store signals, incidents, internal requests ----------------- */

static const char *const sig_queue[] = {
    "Очередь на кассе", "Очередь на кассе", "Очередь на кассе, работает одна касса",
    "Большая очередь у касс", "Не работает касса самообслуживания", "Очередь на кассе, человек %Q",
    "Очередь, откройте вторую кассу",
};
static const char *const sig_condition[] = {
    "Грязный пол", "Грязный пол %A", "Разлита жидкость %A", "Холодно в зале", "Нет тележек",
    "Нет корзин", "Мусор у входа", "Скользкий пол у входа", "Разбита банка %A", "Душно в зале",
};
static const char *const sig_stock[] = {
    "Пустая полка %A", "Нет ценника", "Закончился хлеб", "Нет %g", "Пустые полки %A",
};
static const char *const sig_staff[] = {
    "Нет консультанта %A", "Долго жду администратора", "Нет продавца %A",
};
static const char *const sig_price[] = {
    "Нет ценника на товаре", "Ценник не совпадает с ценой на кассе", "Старые ценники %A",
};
static const char *const sig_quality[] = {
    "Просрочка %A", "Испорченные фрукты в овощном отделе", "Просроченный товар на полке",
};

static const struct pool signal_pools[TOPIC_COUNT] = {
    [TOPIC_CHECKOUT_QUEUE] = POOL(sig_queue), [TOPIC_STORE_CONDITION] = POOL(sig_condition),
    [TOPIC_OUT_OF_STOCK] = POOL(sig_stock),   [TOPIC_STAFF] = POOL(sig_staff),
    [TOPIC_PRICE] = POOL(sig_price),          [TOPIC_PRODUCT_QUALITY] = POOL(sig_quality),
};

static const char *const inc_payment[] = {
    "Во всех кассах не проходит оплата картами, [покупатели уходят|очередь до входа]%!",
    "Не работает оплата по СБП и картам уже [%N минут|полчаса], только наличные%!",
};
static const char *const inc_condition[] = {
    "В магазине %S отключили свет, покупатели в темноте%!",
    "Протечка с потолка %A, вода на полу%!",
    "Не работают холодильники %A, товар нагревается%!",
    "Сработала пожарная сигнализация, всех вывели на улицу%!",
};
static const char *const inc_app[] = {
    "Приложение не открывается [у всех|у меня и у знакомых] уже [час|два часа], заказы не оформить%!",
    "Сайт [лежит|выдаёт ошибку 502], оплатить заказ невозможно%!",
};
static const struct pool incident_pools[TOPIC_COUNT] = {
    [TOPIC_PAYMENT] = POOL(inc_payment),
    [TOPIC_STORE_CONDITION] = POOL(inc_condition),
    [TOPIC_WEBSITE_APP] = POOL(inc_app),
};

static const char *const int_payment[] = {
    "Не закрывается смена на кассе №%k, ошибка фискального накопителя.",
    "Касса №%k не печатает чеки, ошибка связи с ОФД.",
    "Терминал эквайринга на кассе №%k не проводит оплату, [перезагрузка не помогла|пишет «нет связи»].",
    "Не закрывается смена: касса №%k зависла на формировании Z-отчёта.",
};
static const char *const int_refund[] = {
    "Не проходит возврат по карте на кассе №%k, покупатель ждёт.",
    "Возврат по заказу %O не отображается в системе, покупатель требует деньги.",
    "Не можем провести возврат без чека: программа не находит покупку по карте лояльности.",
};
static const char *const int_app[] = {
    "Не работает ТСД, не можем собирать онлайн-заказы.",
    "Не печатаются ценники: принтер в зале не видит программу.",
    "Касса самообслуживания №%k постоянно перезагружается.",
};
static const char *const int_stock[] = {
    "Вторые сутки не приходит поставка %g, полки пустые.",
    "Заказ на поставку %g не ушёл поставщику, в системе ошибка.",
    "Пришла поставка %g с нарушенной упаковкой, куда оформлять акт?",
};
static const char *const int_condition[] = {
    "Сломался холодильник %A, нужен мастер.",
    "Не работает отопление в зале, в магазине холодно, покупатели жалуются.",
    "Не закрываются автоматические двери на входе.",
    "Течёт крыша над складом, нужна срочная помощь.",
};
static const char *const int_other[] = {
    "Прошу выделить сотрудников на выходные, не хватает кассиров.",
    "Нужен ремонт двери в подсобку, не закрывается.",
    "Не пришли пропуска для новых сотрудников.",
    "Покупатель оставил сумку в камере хранения, не можем связаться.",
};
static const struct pool internal_pools[TOPIC_COUNT] = {
    [TOPIC_PAYMENT] = POOL(int_payment),     [TOPIC_RETURN_REFUND] = POOL(int_refund),
    [TOPIC_WEBSITE_APP] = POOL(int_app),     [TOPIC_OUT_OF_STOCK] = POOL(int_stock),
    [TOPIC_STORE_CONDITION] = POOL(int_condition), [TOPIC_OTHER] = POOL(int_other),
};

/* ---- English ------------------------------------------------------------ */

static const char *const en_complaint[TOPIC_COUNT] = {
    [TOPIC_CHECKOUT_QUEUE] = "I [waited|had to wait] %N minutes at the checkout, only one till was open[!|.|!!!]",
    [TOPIC_PRODUCT_QUALITY] = "The [milk|yogurt|chicken|bread] I bought [yesterday|today] was already [sour|spoiled|past its date][.|!]",
    [TOPIC_PRICE] = "The shelf price and the till price were different, I was overcharged[.|!]",
    [TOPIC_OUT_OF_STOCK] = "Your store in %C has had empty shelves for [days|a week], no [milk|bread|eggs] at all[.|!]",
    [TOPIC_DELIVERY] = "My order %O is [late|still not delivered|two hours late] and nobody answers the phone[.|!]",
    [TOPIC_RETURN_REFUND] = "I returned an item [a week|ten days] ago and still have not received my refund[.|!]",
    [TOPIC_LOYALTY] = "Bonus points for my [last|yesterday's] purchase were not credited to my card[.|!]",
    [TOPIC_STAFF] = "The cashier was [rude|very unfriendly] to me [today|yesterday evening][.|!]",
    [TOPIC_STORE_CONDITION] = "The floor near the entrance was [dirty|wet and slippery], [someone could fall|nobody cleaned it][.|!]",
    [TOPIC_WEBSITE_APP] = "The app keeps crashing when I try to [pay|log in|place an order][.|!]",
    [TOPIC_PAYMENT] = "I was charged twice at the self-checkout[.|!] Please refund.",
    [TOPIC_OTHER] = "I [cannot|could not] reach your hotline for [an hour|two days][.|!]",
};

static const char *const en_question[] = {
    "Hello, could you tell me [how to link my loyalty card in the app|whether I can pay with a foreign card|when the store in %C closes on holidays]?",
    "Hi! Is it possible to [change the delivery time|get a paper receipt by e-mail|return an item without a receipt]?",
};
static const char *const en_gratitude[] = {
    "Thank you to the [cashier|staff] at your store in %C, [very kind and quick|really helpful]!",
    "Great service, the courier was [on time|early] and very polite. Thanks!",
};
static const char *const en_suggestion[] = {
    "It would be great to have [more self-checkouts|an English version of the app|oat milk] in your stores.",
};

/* ---- subjects ----------------------------------------------------------- */

static const char *const subjects[TOPIC_COUNT] = {
    [TOPIC_CHECKOUT_QUEUE] = "[Очередь на кассе|Очереди на кассах|Очень долго на кассе|Работает одна касса]",
    [TOPIC_PRODUCT_QUALITY] = "[Качество товара|Просроченный товар|Испорченные продукты|Испорченный товар]",
    [TOPIC_PRICE] = "[Цена на кассе не совпадает|Неверный ценник|Переплата на кассе|Вопрос по цене]",
    [TOPIC_OUT_OF_STOCK] = "[Нет товара в наличии|Пустые полки|Нет %g|Наличие товара]",
    [TOPIC_DELIVERY] = "[Задержка доставки заказа %O|Заказ %O|Доставка %O|Где мой заказ?]",
    [TOPIC_RETURN_REFUND] = "[Возврат денег|Возврат товара|Не вернули деньги|Вопрос по возврату]",
    [TOPIC_LOYALTY] = "[Бонусы|Карта лояльности|Не начислены бонусы|Бонусная программа]",
    [TOPIC_STAFF] = "[Работа сотрудников|Грубость персонала|Жалоба на сотрудника|Поведение кассира]",
    [TOPIC_STORE_CONDITION] = "[Состояние магазина|Грязно в зале|Неубранный зал|Порядок в магазине]",
    [TOPIC_WEBSITE_APP] = "[Проблема с приложением|Ошибка на сайте|Не работает приложение|Вход в приложение]",
    [TOPIC_PAYMENT] = "[Оплата|Двойное списание|Не проходит оплата|Проблема с оплатой]",
    [TOPIC_GRATITUDE] = "[Благодарность|Спасибо!|Спасибо сотрудникам|Отзыв о магазине]",
    [TOPIC_SUGGESTION] = "[Предложение|Идея для магазина|Пожелание|Предложение по ассортименту]",
    [TOPIC_OTHER] = "[Вопрос|Обращение|Другое|Прошу помочь]",
};

static bool is_messenger(enum demo_channel ch)
{
    return ch == CH_TELEGRAM || ch == CH_VIBER || ch == CH_VK || ch == CH_WHATSAPP ||
           ch == CH_CHAT || ch == CH_SMS || ch == CH_SOCIAL;
}

static void put_sep(struct buf *b)
{
    if (b->len > 0)
        buf_putc(b, ' ');
}

static void greeting(struct expander *e)
{
    const struct demo_text_ctx *c = e->c;
    double p = c->channel == CH_EMAIL ? 0.9 : is_messenger(c->channel) ? 0.3 : 0.5;
    if (!demo_rng_chance(e->r, p))
        return;
    if (c->channel == CH_EMAIL || c->channel == CH_WEB)
        expand_cstr(e, "[Добрый день!|Здравствуйте!|Добрый день.|Здравствуйте.|Уважаемая служба поддержки!]");
    else if (c->local_hour >= 18)
        expand_cstr(e, "[Добрый вечер!|Здравствуйте!|Добрый вечер.|Здравствуйте.]");
    else
        expand_cstr(e, "[Здравствуйте!|Добрый день!|Привет.|Здравствуйте.|Добрый день]");
}

static void signature(struct expander *e)
{
    const struct demo_text_ctx *c = e->c;
    if (!c->first_name)
        return;
    if (c->channel == CH_EMAIL && demo_rng_chance(e->r, 0.6)) {
        expand_cstr(e, " [С уважением|Спасибо заранее|Всего доброго], %n");
    } else if (demo_rng_chance(e->r, 0.08)) {
        expand_cstr(e, " [%n|%n, постоянный покупатель]");
    }
}

static void english_text(struct expander *e)
{
    const struct demo_text_ctx *c = e->c;
    switch (c->kind) {
    case KIND_QUESTION:
        expand_cstr(e, PICK(e->r, en_question));
        break;
    case KIND_GRATITUDE:
        expand_cstr(e, PICK(e->r, en_gratitude));
        break;
    case KIND_SUGGESTION:
        expand_cstr(e, PICK(e->r, en_suggestion));
        break;
    default:
        expand_cstr(e, en_complaint[c->topic] ? en_complaint[c->topic] : en_complaint[TOPIC_OTHER]);
        break;
    }
    if (demo_rng_chance(e->r, 0.4))
        expand_cstr(e, " [Please help.|Thanks.|Regards.|Please look into it.]");
}

void demo_text_request(struct demo_rng *r, const struct demo_text_ctx *c, struct buf *subject,
                       struct buf *text)
{
    struct expander e = {r, c, subject, demo_rng_below(r, N_PRODUCTS), demo_rng_below(r, N_STAFF_NAMES)};
    if (c->is_english) {
        static const char *const en_subjects[KIND_COUNT] = {
            [KIND_COMPLAINT] = "[Complaint|Problem|Not happy]", [KIND_QUESTION] = "[Question|Quick question]",
            [KIND_GRATITUDE] = "[Thank you|Thanks!]", [KIND_SUGGESTION] = "[Suggestion|An idea]",
            [KIND_INCIDENT] = "Urgent",
        };
        expand_cstr(&e, en_subjects[c->kind] ? en_subjects[c->kind] : "Feedback");
        e.out = text;
        english_text(&e);
        return;
    }
    if (c->trend == TREND_COLD_STORE)
        expand_cstr(&e, "[Холодно в магазине|Холодно в зале|Отопление|Снова холодно]");
    else
        expand_cstr(&e, subjects[c->topic]);

    e.out = text;
    switch (c->kind) {
    case KIND_SIGNAL: {
        struct pool p = signal_pools[c->topic];
        if (c->trend == TREND_COLD_STORE) {
            expand_cstr(&e, "[Холодно в зале|Холодно в магазине|Очень холодно в зале|Холодно, двери не закрываются|Холодно у касс]");
            return;
        }
        expand_pool(&e, p.n ? p : signal_pools[TOPIC_STORE_CONDITION]);
        if (demo_rng_chance(r, 0.25))
            expand_cstr(&e, "[, [срочно|уже давно|%N минут]|!|!!| — [примите меры|позовите сотрудника]]");
        return;
    }
    case KIND_INCIDENT: {
        struct pool p = incident_pools[c->topic];
        expand_pool(&e, p.n ? p : incident_pools[TOPIC_STORE_CONDITION]);
        return;
    }
    case KIND_INTERNAL: {
        struct pool p = internal_pools[c->topic];
        if (demo_rng_chance(r, 0.3))
            expand_cstr(&e, "[Магазин %s. |Прошу помочь. |Срочно! |Администратор смены: ]");
        if (c->trend == TREND_COLD_STORE)
            expand_cstr(&e, "[Не работает отопление в зале|В торговом зале +14|Тепловая завеса на входе не включается], [покупатели жалуются на холод|кассиры мёрзнут|просим прислать мастера].");
        else
            expand_pool(&e, p.n ? p : internal_pools[TOPIC_OTHER]);
        return;
    }
    case KIND_QUESTION: {
        struct pool p = question_pools[c->topic];
        greeting(&e);
        put_sep(text);
        expand_pool(&e, p.n ? p : question_pools[TOPIC_OTHER]);
        if (demo_rng_chance(r, 0.5)) {
            put_sep(text);
            expand_cstr(&e, "[Спасибо.|Заранее спасибо!|Спасибо!|Жду ответа.|Буду благодар{ен|на} за ответ.]");
        }
        signature(&e);
        return;
    }
    case KIND_GRATITUDE:
        greeting(&e);
        put_sep(text);
        expand_cstr(&e, PICK(r, g_bodies));
        if (demo_rng_chance(r, 0.3)) {
            put_sep(text);
            expand_cstr(&e, "[Так держать!|Побольше бы таких сотрудников.|Обязательно приду ещё.|Всем рекомендую!]");
        }
        signature(&e);
        return;
    case KIND_SUGGESTION:
        greeting(&e);
        put_sep(text);
        expand_cstr(&e, PICK(r, s_bodies));
        if (demo_rng_chance(r, 0.4)) {
            put_sep(text);
            expand_cstr(&e, "[Спасибо!|Думаю, многие поддержат.|Было бы очень удобно.|Надеюсь, учтёте.]");
        }
        signature(&e);
        return;
    default:
        break;
    }

    /* A complaint: greeting, body, perhaps a detail and a demand, perhaps a name. */
    greeting(&e);
    put_sep(text);
    if (c->trend == TREND_COLD_STORE)
        expand_cstr(&e, PICK(r, c_cold));
    else if (c->trend == TREND_DELIVERY_SPIKE)
        expand_cstr(&e, PICK(r, c_delivery_spike));
    else
        expand_pool(&e, complaint_pools[c->topic].n ? complaint_pools[c->topic]
                                                     : complaint_pools[TOPIC_OTHER]);
    if (demo_rng_chance(r, 0.4)) {
        put_sep(text);
        expand_cstr(&e, PICK(r, c_extras));
    }
    if (demo_rng_chance(r, 0.55)) {
        put_sep(text);
        expand_cstr(&e, PICK(r, c_demands));
    }
    signature(&e);
}

void demo_expand(struct demo_rng *r, const struct demo_text_ctx *c, struct buf *out,
                 const char *tmpl)
{
    struct expander e = {r, c, out, demo_rng_below(r, N_PRODUCTS), demo_rng_below(r, N_STAFF_NAMES)};
    expand_cstr(&e, tmpl);
}
