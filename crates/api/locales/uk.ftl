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
error-enrol = Спершу налаштуйте другий фактор
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
cases-count = { $count ->
    [one] { $count } справа
    [few] { $count } справи
   *[many] { $count } справ
}
cases-title = Мої справи
cases-none = У вас ще немає справ.
cases-next = Давніші справи
case-reference = Номер
case-status = Статус
case-risk = Ризик
case-opened = Відкрито
