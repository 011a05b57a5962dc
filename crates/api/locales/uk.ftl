# Сторінки hotline, українською. Кожен ключ тут має бути й в en.ftl (це перевіряє тест).
app-name = hotline
skip-to-content = Перейти до змісту
nav-label = Головне
nav-desk = Прийом дзвінків
nav-cases = Мої справи
sign-out = Вийти
quick-exit = Швидкий вихід
quick-exit-help = Швидкий вихід (червона кнопка або двічі Esc) одразу очищує сторінку й відкриває нейтральний сайт. Попередні сторінки можуть лишитися в історії браузера: на спільному пристрої користуйтеся приватним вікном.
idle-warning = Через хвилину бездіяльності вас буде виведено з системи. Збережіть або надішліть форму, щоб лишитися.
sign-in-title = Вхід
shared-device-notice = На спільному чи публічному пристрої користуйтеся приватним вікном і виходьте, коли закінчите.
sign-in = Увійти
field-login = Логін
field-password = Пароль
field-code = Одноразовий код
field-code-help = З застосунку-автентифікатора або код відновлення; залиште порожнім, якщо у вашого облікового запису немає другого фактора.
sign-in-failed = Логін, пароль або код неправильні, або цей обліковий запис зараз не може увійти.
sign-in-code-needed = Для цього облікового запису потрібен одноразовий код: введіть логін, пароль і код.
sign-in-throttled = Забагато невдалих спроб.
wait-seconds = { $count ->
    [one] Спробуйте знову через { $count } секунду.
    [few] Спробуйте знову через { $count } секунди.
   *[many] Спробуйте знову через { $count } секунд.
}
error-status = Статус
error-request-id = Ідентифікатор запиту:
error-home = Повернутися на початок
error-forbidden = Це не дозволено
error-not-found = Не знайдено
error-conflict = Хтось уже змінив це
error-too-large = Надіслано забагато даних
error-invalid = Деякі поля заповнено неправильно
error-too-many = Забагато спроб
error-unavailable = Сервіс зараз недоступний
error-internal = Щось пішло не так
error-bad-request = Запит не зрозуміло
desk-title = Новий дзвінок
call-timer = Тривалість дзвінка
case-opened-as = Відкрито справу:
call-saved = Дзвінок збережено.
form-has-errors = Виправте, будь ласка, ці поля:
field-invalid = Перевірте це поле.
field-form = Форма
field-channel = Канал
field-direction = Напрям
field-caller-role = Хто звертається
field-caller-gender = Стать абонента
field-caller-age-group = Вікова група абонента
field-language = Мова дзвінка
field-outcome = Результат
field-region = Регіон
field-topics = Теми
field-started-at = Початок дзвінка
field-ended-at = Кінець дзвінка
caller-details = Дані абонента
anonymous-by-default = Дзвінок анонімний, якщо ви не заповните ці поля (вони зберігаються зашифрованими).
field-caller-phone = Номер телефону абонента
field-caller-name = Ім'я абонента
field-summary = Короткий зміст
field-summary-help = Зберігається зашифрованим; прочитати його можуть лише ті, кому дозволено відкрити цей дзвінок.
save-call = Зберегти дзвінок
save-and-open-case = Зберегти й відкрити справу
lookup-invalid = Це ще не номер телефону.
lookup-none = З цього номера раніше не дзвонили.
lookup-known = Відомий номер:
lookup-last = останній
calls-count = { $count ->
    [one] { $count } дзвінок
    [few] { $count } дзвінки
   *[many] { $count } дзвінків
}
nav-calls = Дзвінки моєї зміни
calls-title = Дзвінки моєї зміни
calls-title-all = Дзвінки
calls-window = { $count ->
    [one] Дзвінки, які ви записали за останні { $count } годину.
    [few] Дзвінки, які ви записали за останні { $count } години.
   *[many] Дзвінки, які ви записали за останні { $count } годин.
}
calls-any = Усі
calls-filter = Фільтрувати
calls-clear = Скинути фільтри
calls-none = Немає таких дзвінків.
calls-started = Початок (UTC)
calls-case = Справа
calls-case-linked = Пов'язано
calls-next = Давніші дзвінки
field-from = Від (дня)
field-to = До (дня, включно)
field-topic = Тема
cases-count = { $count ->
    [one] { $count } справа
    [few] { $count } справи
   *[many] { $count } справ
}
cases-follow-up = Наступна перевірка
cases-overdue = прострочено
cases-title = Мої справи
cases-none = У вас ще немає справ.
cases-next = Давніші справи
case-reference = Номер
case-status = Статус
case-risk = Ризик
case-opened = Відкрито
answer-yes = так
answer-no = ні
form-conflict = Хтось змінив цей запис після того, як ви його відкрили. Нічого не збережено; ваш текст нижче. Відкрийте запис ще раз у новій вкладці, щоб побачити зміни, і збережіть свій текст знову.
one-per-line = По одному в рядку.
countries-help = Коди країн (ISO 3166) через пробіл: UA PL DE.
case-title = Справа
case-back = Назад до справи
case-sections = Розділи справи
case-facts = Факти
case-profile = Особа
case-narrative = Опис
case-notes = Нотатки
case-plan = План реінтеграції
case-consents = Згоди
case-calls = Пов'язані дзвінки
case-referrals = Переадресації
case-edit = Редагувати справу
case-save = Зберегти справу
case-saved = Збережено.
case-erased = Особисті дані цієї справи стерто; залишилися лише статистичні факти.
field-status = Статус
field-risk-level = Ризик
field-gender = Стать
field-age-band = Вікова група
field-nationality = Громадянство
field-recruitment = Вербування
field-nrm-status = Національний механізм переадресації
field-exploitation-types = Форми експлуатації
field-control-methods = Засоби контролю
field-recruitment-countries = Країни вербування
field-transit-countries = Країни транзиту
field-exploitation-countries = Країни експлуатації
field-exploitation-from = Експлуатація з (місяць)
field-exploitation-to = Експлуатація до (місяць)
field-given-name = Ім'я
field-family-name = Прізвище
field-other-names = Інші імена
field-birth-date = Дата народження
field-languages = Мови
field-safe-contact = Безпечний контакт: коли і як
field-phones = Номери телефонів
field-email = Ел. пошта
field-address = Адреса
field-documents = Документи
field-exploitation-details = Що сталося
field-needs-assessment = Оцінка потреб
field-profile = Особа
field-note = Нотатка
field-plan-domain = Сфера
field-plan-goal = Мета
field-plan-status = Стан
field-due-on = Термін
field-progress-note = Нотатка про поступ
field-consent-purpose = Мета
field-service-types = Послуги, які вона охоплює
field-consent-scope = На що особа погодилася, її словами
field-expires-at = Діє до
field-service = Послуга
field-service-type = Тип послуги
field-safety-needs = Потреби безпеки для передачі
field-health-needs = Потреби здоров'я для передачі
field-follow-up-on = Перевірити
field-override-justification = Керівник: причина переадресації без згоди
field-reason = Причина
field-justification = Чому, вашими словами
field-version = Версія
safe-contact-help = Завжди читайте це перед тим, як зв'язатися з особою. Зберігається зашифрованим.
safe-contact-missing = Інструкцій щодо безпечного контакту ще немає: не зв'язуйтеся з особою, доки їх не записано.
document-kind = Документ
document-number = Номер
document-status = Де він
note-add = Додати нотатку
note-edit = Редагувати
note-save = Зберегти нотатку
note-edited = змінено
note-history = Історія нотатки
note-revision = Редакція
plan-none = Пунктів плану ще немає.
plan-add = Додати пункт плану
plan-update = Оновити
plan-save = Зберегти
consents-none = Згод не записано.
consent-add = Записати згоду
consent-given = Надано
consent-state = Стан
consent-live = Чинна
consent-withdrawn = Відкликана
consent-expired = Спливла
consent-withdraw = Відкликати
referrals-show = Показати переадресації
referrals-none = Переадресацій ще немає.
referral-new = Нова переадресація
referral-title = Переадресація
referral-status = Стан
referral-opened = Відкрито партнером
referral-preview = Підготувати й переглянути
referral-send = Надіслати партнеру
referral-cancel = Скасувати переадресацію
referral-draft = Чернетка: не надіслано
referral-sent = Надіслано
referral-accepted = Прийнято
referral-declined = Відхилено
referral-in-progress = Триває
referral-completed = Завершено
referral-cancelled = Скасовано
referral-revoked = Відкликано
referral-expired = Спливла
directory-search = Знайти надавачів
directory-none = Тут жоден активний надавач не пропонує цієї послуги.
override-help = Лише керівник може переадресувати без згоди, що охоплює надавача; причину записують і перевіряють.
packet-title = Що побачить партнер
packet-preview = Ще не надіслано. Саме це побачить партнер; перевірте й надішліть.
packet-gone = Пакет більше недоступний (переадресацію завершено).
packet-never-contact = Контактні дані ніколи не надсилаються: партнер зв'язується з особою через вас.
break-glass-title = Екстрений доступ
break-glass-help = Екстрений доступ відкриває цю справу лише для читання на короткий час. Вашу причину записують, і керівник її перевіряє.
break-glass-open = Відкрити справу (лише читання)
break-glass-banner = Екстрений доступ: лише читання.
break-glass-until = Закінчується о
error-break-glass = Запросити екстрений доступ до цієї справи
error-reload = Відкрити знову
enrol-title = Налаштуйте другий фактор
enrol-scan = Відскануйте цей код застосунком-автентифікатором і введіть код, який він покаже.
enrol-qr = QR-код для застосунку-автентифікатора
enrol-secret = Або введіть у застосунок цей ключ:
enrol-again = Показати новий код для сканування
enrol-confirm = Підтвердити
enrolled-title = Ваші коди відновлення
recovery-once = Запишіть ці коди й зберігайте їх у безпечному місці. Кожен дає змогу увійти один раз, якщо ви втратите телефон. Їх показано лише зараз.
enrolled-continue = Я їх зберіг(ла): продовжити
nav-referrals = Переадресації
referrals-title = Переадресації
referrals-back = Назад до переадресацій
packet-title-partner = Пакет переадресації
referral-partner-note = Відповідь надавача
referral-accept = Прийняти переадресацію
referral-decline = Відхилити, вказавши причину
referral-start = Розпочати підтримку
referral-complete = Повідомити результат і закрити
nav-audit = Журнал доступу
audit-title = Журнал доступу
audit-help = Кожен доступ до запису, дозволений чи відхилений: хто, який запис і які поля (лише назви), за яким правилом. Ніколи не вміст.
audit-none = Немає подій за цими умовами.
audit-count = { $count ->
    [one] { $count } подія
    [few] { $count } події
   *[many] { $count } подій
}
audit-event = Подія
audit-at = Час (UTC)
audit-record = Запис
audit-fields = Поля
audit-rule = Правило
audit-mfa = другий фактор
audit-allowed = дозволено
audit-denied = відхилено
audit-older = Давніші події
audit-record-title = Хто торкався цього запису
audit-anomalies-title = Аномалії
anomaly-heavy-readers = Багато переглядів записів
anomaly-denial-bursts = Багато відмов
anomaly-break-glass = Екстрені доступи
anomaly-odd-hours = Входи в незвичні години
anomaly-none = У цьому проміжку нічого.
anomaly-reads = { $count ->
    [one] { $count } перегляд
    [few] { $count } перегляди
   *[many] { $count } переглядів
}
anomaly-denials = { $count ->
    [one] { $count } відмова
    [few] { $count } відмови
   *[many] { $count } відмов
}
audit-verify-title = Перевірка журналу
audit-verify-help = Перераховує кожну ланку кожного ланцюга журналу й перевіряє кожну підписану контрольну точку, як hotline audit verify. Видалена, змінена чи переставлена подія розриває ланцюг саме на ній.
audit-verify-run = Перевірити зараз
audit-verify-ok = Журнал цілий.
audit-verify-broken = { $count ->
    [one] Журнал пошкоджено: { $count } проблема.
    [few] Журнал пошкоджено: { $count } проблеми.
   *[many] Журнал пошкоджено: { $count } проблем.
}
audit-verify-first = Перший розрив на
audit-verify-events = { $count ->
    [one] перевірено { $count } подію
    [few] перевірено { $count } події
   *[many] перевірено { $count } подій
}
audit-verify-checkpoints = { $count ->
    [one] перевірено { $count } контрольну точку
    [few] перевірено { $count } контрольні точки
   *[many] перевірено { $count } контрольних точок
}
field-actor = Виконавець (id користувача)
field-action = Дія
field-record-type = Тип запису
field-record-id = Id запису
field-hours = Годин назад
field-before = До події
case-supervision = Нагляд
case-unassigned = Не призначено
case-assign = Призначити
field-assigned-to = Кейс-менеджер
field-hold-reason = Підстава юридичного утримання
hold-on = Ця справа під юридичним утриманням: строки зберігання й видалення її не торкаються.
hold-place = Накласти юридичне утримання
hold-lift = Зняти юридичне утримання
erasure-ask = Попросити видалити цю справу
erasure-help = Має погодити інший керівник. Видалення назавжди знищує дані особи, нотатки й пакети; лишаються тільки статистичні факти.
nav-break-glass = Екстрені доступи
nav-erasures = Видалення
queue-waiting = Лише ті, що чекають
queue-all = Усі, разом із вирішеними
grants-title = Екстрені доступи на перевірку
grants-none = Жоден екстрений доступ не чекає на перевірку.
grants-erased = Справу видалено.
grants-granted = Доступ
grants-reviewed = Перевірено
grants-flagged = позначено для з'ясування
grants-justified = обґрунтовано
grants-approve = Обґрунтовано
grants-flag = Позначити для з'ясування
erasures-title = Запити на видалення
erasures-help = Видалення потребує двох людей: ви не можете вирішувати власний запит. Погодження назавжди знищує дані особи, нотатки й пакети справи.
erasures-none = Жоден запит на видалення не чекає.
erasures-requested = Запитано
erasures-decision = Рішення
erasures-pending = Чекає
erasures-approved = Погоджено: видалено
erasures-rejected = Відхилено
erasures-approve = Погодити й видалити
erasures-reject = Відхилити
cases-title-all = Усі справи
cases-assigned-me = Мої
field-assigned = Призначення
nav-stats = Статистика
stats-title = Статистика
stats-show = Показати період
stats-report = Звіт для друку
stats-k = Кожне число, менше за { $count }, приховано, а також інші, де потрібно, щоб жодне не можна було вирахувати.
stats-suppressed = приховано
stats-total = Разом
stats-cases-by-status = Справи за станом
stats-cases-by-gender-and-age = Справи за статтю й віком
stats-referrals-by-service = Переадресації за послугою й станом
stats-plan-items = Пункти плану реінтеграції за сферою й станом
nav-follow-ups = Прострочене
follow-ups-title = Прострочені перевірки
follow-ups-help = Справи з відкритим пунктом плану чи перевіркою переадресації, строк яких минув; найдавніші першими.
nav-users = Облікові записи
nav-directory = Довідник служб
role-counselor = Консультант
role-case-worker = Кейс-менеджер
role-supervisor = Керівник
role-auditor = Аудитор
role-admin = Адміністратор
role-partner = Організація-партнер
field-role = Роль
field-organisation = Організація (лише партнери)
field-first-password = Перша парольна фраза
users-title = Облікові записи
users-new = Новий обліковий запис
users-create = Створити обліковий запис
users-organisation-help = Код організації партнера в довіднику; порожньо для працівників лінії.
users-count = { $count ->
    [one] { $count } обліковий запис
    [few] { $count } облікові записи
   *[many] { $count } облікових записів
}
users-state = Стан
users-actions = Дії
users-active = активний
users-disabled = вимкнено
users-locked = заблоковано
users-totp = другий фактор є
users-no-totp = без другого фактора
users-disable = Вимкнути
users-enable = Увімкнути
users-unlock = Розблокувати
users-reset-totp = Скинути другий фактор
users-change-role = Змінити роль
users-yourself = Ваш власний обліковий запис: його змінює інший адміністратор.
users-created = Обліковий запис створено. Передайте першу парольну фразу особисто; її змінюють під час першого входу.
users-changed = Збережено. Сеанси завершено там, де цього вимагає зміна.
directory-title = Довідник служб
directory-imported = Довідник імпортовано.
directory-import = Імпорт CSV
directory-import-help = Один рядок на послугу, із заголовком organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description; списки через крапку з комою. Ви побачите зміни, перш ніж щось буде збережено.
directory-import-bad = Нічого не прочитано: ці рядки хибні.
directory-import-preview = Переглянути зміни
directory-import-save = Зберегти ці зміни
directory-import-cancel = Скасувати
directory-preview = Що змінить імпорт
directory-new = нова організація
directory-unchanged = без змін
directory-changes = зміни:
directory-services-added = додано послуги:
directory-services-removed = вилучено послуги:
directory-count = { $count ->
    [one] { $count } організація
    [few] { $count } організації
   *[many] { $count } організацій
}
directory-export = Завантажити довідник як CSV
field-csv-file = Файл CSV
field-csv = Або текст CSV
field-organisation-name = Організація
field-notification-email = Адреса для сповіщень
field-notification-language = Мова сповіщень
field-regions = Регіони
field-intake-criteria = Умови прийому
field-active = Активна
field-services = Послуги
nav-retention = Зберігання
retention-title = Строки зберігання
retention-help = Скільки зберігаються персональні дані. Строки — це конфігурація розгортання ([retention] у файлі конфігурації або змінні HOTLINE__RETENTION__*): їх змінюють переглянутою зміною розгортання, а не кліком. Сервер застосовує їх що retention.run_every_minutes хвилин (щогодини, якщо не вказано); статистичні факти лишаються.
retention-calls = Подробиці дзвінків, що не стали справою
retention-cases = Персональні дані закритої справи
retention-audit = Події журналу доступу (звітуються; журнал лише доповнюється)
retention-months = { $count ->
    [one] { $count } місяць після дзвінка
    [few] { $count } місяці після дзвінка
   *[many] { $count } місяців після дзвінка
}
retention-years = { $count ->
    [one] { $count } рік
    [few] { $count } роки
   *[many] { $count } років
}
retention-next = Що наступний запуск видалив би зараз
retention-plan-calls = { $count ->
    [one] подробиці { $count } дзвінка
    [few] подробиці { $count } дзвінків
   *[many] подробиці { $count } дзвінків
}
retention-plan-cases = { $count ->
    [one] { $count } закриту справу
    [few] { $count } закриті справи
   *[many] { $count } закритих справ
}
retention-plan-held = { $count ->
    [one] { $count } справу пропущено через юридичне утримання
    [few] { $count } справи пропущено через юридичне утримання
   *[many] { $count } справ пропущено через юридичне утримання
}
retention-plan-audit = { $count ->
    [one] { $count } подія журналу після строку (зберігається)
    [few] { $count } події журналу після строку (зберігаються)
   *[many] { $count } подій журналу після строку (зберігаються)
}
stats-chart-calls-by-topic = Дзвінки за місяцями й темами
stats-chart-cases-by-exploitation = Справи за формою експлуатації
stats-chart-referral-funnel = Переадресації за станом
stats-cases = Справи
stats-chart-suppressed = приховано (менше за { $count } або захищає інше число)
stats-chart-note = * деякі числа приховано (менше за { $count } або щоб захистити інші)
grants-justification = Обґрунтування
packet-never-contact-partner = Контактні дані ніколи не надсилаються: ви зв'язуєтеся з особою через кейс-менеджера лінії.
nav-cases-all = Усі справи
sign-in-passkey-title = Або увійдіть за ключем доступу
sign-in-passkey-help = Введіть логін вище, потім скористайтеся ключем доступу (відбиток пальця, обличчя чи PIN-код пристрою або ключ безпеки).
sign-in-passkey = Увійти за ключем доступу
sign-in-passkey-failed = Увійти за ключем доступу не вдалося. Спробуйте ще раз; якщо ключ втрачено, увійдіть з паролем і кодом відновлення.
sign-in-passkey-required = Цей обліковий запис входить за ключем доступу: натисніть кнопку ключа доступу. Якщо ключ втрачено, введіть пароль і код відновлення замість коду.
nav-passkeys = Ключі доступу
passkeys-title = Ваші ключі доступу
passkeys-help = Ключ доступу відкриває вхід відбитком пальця, обличчям чи PIN-кодом цього пристрою або ключем безпеки, і лише на адресі цієї гарячої лінії: підроблений сайт не зможе ним скористатися. Майте два ключі (наприклад, ноутбук і телефон) і коди відновлення.
passkeys-required = Ваша роль входить за ключем доступу. Додайте ключ зараз: доти нічого іншого не відкривається.
passkeys-none = У вас ще немає ключа доступу.
passkeys-count = { $count ->
    [one] { $count } ключ доступу
    [few] { $count } ключі доступу
   *[many] { $count } ключів доступу
}
passkeys-added-at = Додано (UTC)
passkeys-last-used = Востаннє використано (UTC)
passkeys-never = ніколи
passkeys-flagged = заблоковано: його лічильник пішов назад (скопійований ключ?); видаліть його
passkeys-synced = синхронізується між пристроями
passkeys-device = лише на цьому пристрої
passkeys-rename = Перейменувати
passkeys-remove = Видалити
passkeys-add = Додати ключ доступу
passkeys-name-help = Щоб їх розрізняти, наприклад «робочий ноутбук». Необов'язково.
passkeys-unsupported = Цей браузер не підтримує ключі доступу (або в ньому вимкнено скрипти). Щоб додати ключ, скористайтеся сучасним браузером.
passkeys-failed = Ключ доступу не додано: дію скасовано, час вийшов або пристрій відмовив. Спробуйте ще раз.
passkeys-added = Ключ доступу додано.
passkeys-renamed = Ключ доступу перейменовано.
passkeys-removed = Ключ доступу видалено. Сеанси, відкриті ним, завершено.
field-passkey-name = Назва ключа доступу
field-passkey = Ключ доступу
users-passkeys = { $count ->
    [one] { $count } ключ доступу
    [few] { $count } ключі доступу
   *[many] { $count } ключів доступу
}
users-revoke-passkeys = Відкликати ключі доступу
